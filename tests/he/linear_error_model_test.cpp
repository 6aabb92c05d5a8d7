// The error model of the default precision (linear_error_model.h) against the
// errors execute really makes: for several layouts (sub-body, n_w = 2, split
// points with sequential levels), the measured mean square error over many
// outputs and rows is close to the model's, and exact precision models none.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/linear_error_model.h"
#include "he/linear_reference.h"

namespace fhellm::he {
namespace {

struct Measured {
  double ratio;     // sum e^2 / sum (sigma^2 + 1/12)
  double mean_std;  // mean modelled sigma
};

Measured measure(LinearShape s, std::uint64_t seed, int weight_range) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> wd(-weight_range, weight_range - 1), xd(0, 255);
  std::vector<std::int8_t> w(std::size_t{s.out} * s.in);
  for (auto& v : w) v = static_cast<std::int8_t>(wd(rng));
  std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in);
  for (auto& v : x) v = static_cast<std::uint8_t>(xd(rng));
  const LinearClient client({ParamId::n2048_q54});
  const EncodedWeights weights(w, s.out, s.in);
  const auto y = client.decrypt(linear_evaluate(client.encrypt(std::span<const std::uint8_t>(x), s), weights,
                                                client.server_keys(), 2));
  std::vector<std::int32_t> x32(x.begin(), x.end());
  const auto expect = clear::matmul(s.rows, s.in, s.out, x32.data(), w.data());
  const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
  const auto sigma = linear_error_std(plan, w);
  double measured = 0, modelled = 0, mean = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = static_cast<double>(y[i] - expect[i]);
    const double sj = sigma[i % s.out];
    measured += e * e;
    modelled += sj * sj + 1.0 / 12.0;
  }
  for (double v : sigma) mean += v / static_cast<double>(sigma.size());
  return {measured / modelled, mean};
}

TEST(LinearErrorModel, MatchesMeasuredErrors) {
  for (const auto& [s, range] : {std::pair{LinearShape{8, 768, 768}, 128}, std::pair{LinearShape{8, 768, 2304}, 32},
                                 std::pair{LinearShape{4, 3072, 768}, 128}, std::pair{LinearShape{2, 300, 5000}, 64}}) {
    const Measured m = measure(s, s.in + s.out, range);
    const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
    std::printf("k=%u n=%u |w|<=%d: measured / modelled mean square error %.3f, modelled sigma %.1f (%s)\n", s.in,
                s.out, range, m.ratio, m.mean_std, describe(plan).c_str());
    EXPECT_GT(m.ratio, 0.8) << "the model overstates the error";
    EXPECT_LT(m.ratio, 1.15) << "the model understates the error";
    EXPECT_GT(m.mean_std, 1.0) << "the default precision should drop low bits";
  }
}

TEST(LinearErrorModel, ExactHasNone) {
  const std::vector<std::int8_t> w(40 * 30, 5);
  for (double v : linear_error_std(plan_linear({1, 30, 40}, LinearPrecision::exact, false), w)) EXPECT_EQ(v, 0.0);
  EXPECT_THROW((void)linear_error_std(plan_linear({1, 30, 40}, LinearPrecision::standard, false), std::span<const std::int8_t>(w).subspan(1)),
               Error);
}

}  // namespace
}  // namespace fhellm::he
