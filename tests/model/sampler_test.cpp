#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fhellm/error.h"
#include "model/sampler.h"

namespace fhellm::model {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f};

TEST(Sampler, TemperatureZeroIsArgmaxWithLowestIdOnTies) {
  Sampler s({0.0f, 0, 1.0f, 7});
  EXPECT_EQ(s.sample(kLogits), 1);
  EXPECT_EQ(argmax(kLogits), 1);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  auto run = [](std::uint64_t seed) {
    Sampler s({1.0f, 0, 1.0f, seed});
    std::vector<std::int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(kLogits));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  Sampler k2({5.0f, 2, 1.0f, 1});  // only ids 1 and 3 (the two largest)
  for (int i = 0; i < 200; ++i) {
    const auto id = k2.sample(kLogits);
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
  Sampler p({1.0f, 0, 1e-6f, 1});  // nucleus of one: the argmax
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p.sample(kLogits), 1);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  Sampler s({1.0f, 0, 1.0f, 3});
  std::vector<int> counts(kLogits.size());
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(s.sample(kLogits))];
  double total = 0.0;
  for (float v : kLogits) total += std::exp(v);
  for (std::size_t i = 0; i < kLogits.size(); ++i) {
    const double p = std::exp(kLogits[i]) / total;
    EXPECT_NEAR(counts[i] / static_cast<double>(n), p, 4.0 * std::sqrt(p * (1 - p) / n) + 1e-3) << "id " << i;
  }
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 1.5f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 1.0f, 0, 1.5f}), Error);        // min_p > 1
  EXPECT_THROW(Sampler({1.0f, 0, 1.0f, 0, 0.0f, 0.0f}), Error);  // repeat_penalty 0
}

TEST(Sampler, MinPDropsTheUnlikely) {
  // At T = 1, p(id) is proportional to exp(logit): ids 1 and 3 have e^3, id 2 e^2 = 0.37 of them.
  Sampler s({1.0f, 0, 1.0f, 5, 0.5f});
  for (int i = 0; i < 300; ++i) {
    const auto id = s.sample(kLogits);
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
  Sampler keep({1.0f, 0, 1.0f, 5, 0.3f});  // 0.37 > 0.3: id 2 may come
  bool saw_2 = false;
  for (int i = 0; i < 300; ++i) saw_2 = saw_2 || keep.sample(kLogits) == 2;
  EXPECT_TRUE(saw_2);
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  Sampler greedy({0.0f, 0, 1.0f, 0, 0.0f, 2.0f, 2});
  EXPECT_EQ(greedy.sample(kLogits), 1);
  greedy.accept(1);  // 3 -> 1.5: id 3 (3) now wins
  EXPECT_EQ(greedy.sample(kLogits), 3);
  greedy.accept(3);  // both penalized: 1.5 and 1.5 lose to id 2 (2)
  EXPECT_EQ(greedy.sample(kLogits), 2);
  greedy.accept(2);  // window of 2: id 1 leaves it, and wins again
  EXPECT_EQ(greedy.sample(kLogits), 1);
  Sampler negative({0.0f, 0, 1.0f, 0, 0.0f, 2.0f, 8});
  const std::vector<float> all_negative = {-1.0f, -1.5f};
  negative.accept(0);  // -1 -> -2: id 1 wins
  EXPECT_EQ(negative.sample(all_negative), 1);
}

}  // namespace
}  // namespace fhellm::model

// The SIMD matrix-vector kernel equals the scalar reference (up to float
// summation order) over shapes with tails.
#include "model/linear.h"
#include "model/gemv.h"

namespace fhellm::model {
namespace {

TEST(Gemv, Avx2KernelMatchesReference) {
  for (std::size_t k : {1u, 7u, 8u, 63u, 64u, 172u, 768u}) {
    for (std::size_t n : {1u, 3u, 4u, 5u, 13u}) {
      std::vector<float> w(n * k), x(k), a(n, -1.0f), b(n, -2.0f);
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
      for (std::size_t j = 0; j < k; ++j) x[j] = std::cos(0.11f * static_cast<float>(j));
      gemv_rows(w.data(), k, x.data(), 0, n, a.data());
      gemv_rows_reference(w.data(), k, x.data(), 0, n, b.data());
      for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(a[i], b[i], 1e-4f * (1.0f + std::abs(b[i]))) << n << "x" << k;
    }
  }
}

}  // namespace
}  // namespace fhellm::model

namespace fhellm::model {
namespace {

// matmul_transposed (own kernel or sgemm by size) equals the OpenBLAS path.
TEST(MatmulTransposed, EqualsTheOpenBlasPath) {
  for (std::size_t rows : {1u, 3u, 40u}) {
    const std::size_t k = 200, n = 300;
    std::vector<float> x(rows * k), w(n * k), b(n), y1(rows * n), y2(rows * n);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.13f * static_cast<float>(i));
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.07f * static_cast<float>(i));
    for (std::size_t i = 0; i < n; ++i) b[i] = 0.01f * static_cast<float>(i);
    matmul_transposed(x.data(), rows, k, w.data(), n, b.data(), y1.data());
    matmul_transposed_openblas(x.data(), rows, k, w.data(), n, b.data(), y2.data());
    for (std::size_t i = 0; i < y1.size(); ++i) ASSERT_NEAR(y1[i], y2[i], 1e-3f * (1.0f + std::abs(y2[i]))) << rows;
  }
}

}  // namespace
}  // namespace fhellm::model
