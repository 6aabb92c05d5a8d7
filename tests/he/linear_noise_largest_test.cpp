// Measured noise of the encrypted product at the largest shape the API
// takes (k = 8192) with a wide output (n = 16384), extreme inputs and weights,
// against the noise model (docs/linear.md sections 5 and 5b): not the
// planner against its own bound, the decrypted phases against the model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "he/linear.h"
#include "he/linear_error_model.h"
#include "he/linear_reference.h"

namespace fhellm::he {
namespace {

TEST(LinearNoise, MeasuredAtTheLargestShapeMatchesTheModel) {
  // x = 255 everywhere and w = -128 everywhere: the largest |X W^T| the plan
  // allows (8192 * 255 * 128) and the largest weight norms, which the model
  // takes as its worst case; then random extremes (x in {0, 255}, w in {-128, 127}).
  const LinearShape s{2, 8192, 16384};
  const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
  const LinearClient client({plan.param_id});
  const LinearServerKeys keys = client.server_keys();
  double log_q = 0;
  for (std::uint64_t q : parameter_set(plan.param_id).coeff_modulus) log_q += std::log2(static_cast<double>(q));
  const double delta = std::exp2(log_q - plan.plain_bits);
  std::mt19937_64 rng(8192);
  for (const bool random_extremes : {false, true}) {
    std::vector<std::int8_t> w(std::size_t{s.out} * s.in, -128);
    std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in, 255);
    if (random_extremes) {
      for (auto& v : w) v = (rng() & 1) != 0 ? 127 : -128;
      for (auto& v : x) v = (rng() & 1) != 0 ? 255 : 0;
    }
    std::vector<std::int64_t> expect;
    {
      std::vector<std::int32_t> x32(x.begin(), x.end());
      expect = clear::matmul(s.rows, s.in, s.out, x32.data(), w.data());
    }
    std::vector<double> noise;
    {
      const EncodedWeights weights(w, s.out, s.in);  // ~0.9 GB, freed before the next case
      const auto reply = linear_evaluate(client.encrypt(std::span<const std::uint8_t>(x), s), weights, keys, 2);
      noise = client.measure_noise(reply, expect);
      const auto y = client.decrypt(reply);
      std::int64_t worst = 0;
      for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(y[i] - expect[i]));
      EXPECT_LE(worst, plan.error_floor);
    }
    // The model per output (the weights' real norms), as a phase variance.
    const auto sigma = linear_error_std(plan, w);
    double measured = 0, modelled = 0, largest = 0;
    for (std::size_t i = 0; i < noise.size(); ++i) {
      measured += noise[i] * noise[i];
      modelled += std::pow(sigma[i % s.out] * delta, 2);
      largest = std::max(largest, std::abs(noise[i]));
    }
    std::printf("%s, %s: %zu values; measured / modelled noise^2 %.3f; largest |noise| 2^%.1f, allowed 2^%.1f\n",
                describe(plan).c_str(), random_extremes ? "random extremes" : "x = 255, w = -128", noise.size(),
                measured / modelled, std::log2(largest), std::log2(plan.noise.allowed));
    // With every weight and input equal, the outputs share their noise
    // terms (the same input noise meets the same weight polynomials), so
    // the 32768 values are few independent draws: the ratio spread over
    // 0.93-1.12 in 12 runs (sd ~0.06), and one of three full ctest runs
    // failed the former bound of 1.15.
    // Random extremes give independent outputs: 0.96-0.98.
    const double spread = random_extremes ? 0.15 : 0.35;
    EXPECT_GT(measured / modelled, 1 - spread) << "the model overstates the noise";
    EXPECT_LT(measured / modelled, 1 + spread) << "the model understates the noise";
    EXPECT_LT(largest, plan.noise.allowed);
  }
}

}  // namespace
}  // namespace fhellm::he
