#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <random>
#include <tuple>
#include <vector>

#include "fhellm/error.h"
#include "quant/int_matmul.h"
#include "quant/quantize.h"

namespace fhellm::quant {
namespace {

std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(QuantizeWeights, SymmetricPerChannelWithinHalfAStep) {
  const std::size_t n = 7, k = 33;
  auto w = random_floats(n * k, -2.0f, 2.0f, 1);
  for (std::size_t j = 0; j < k; ++j) w[3 * k + j] *= 0.001f;  // a tiny channel keeps its own scale
  for (std::size_t j = 0; j < k; ++j) w[5 * k + j] = 0.0f;     // an all-zero channel
  const auto q = quantize_weights_per_channel(w.data(), n, k, 8);
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t sum = 0, max_q = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const int v = q.values[i * k + j];
      EXPECT_LE(std::abs(v), 127);
      max_q = std::max(max_q, std::abs(v));
      sum += v;
      EXPECT_LE(std::abs(v * q.scales[i] - w[i * k + j]), 0.5f * q.scales[i] * 1.0001f);
    }
    EXPECT_EQ(sum, q.row_sums[i]);
    if (i != 5) {
      EXPECT_EQ(max_q, 127) << "channel " << i;  // the largest weight maps to q_max
    }
  }
  EXPECT_LT(q.scales[3], q.scales[2] * 0.01f);
  EXPECT_THROW(quantize_weights_per_channel(w.data(), n, k, 9), Error);
  w[0] = NAN;
  EXPECT_THROW(quantize_weights_per_channel(w.data(), n, k, 8), Error);
}

TEST(QuantizeRows, ZeroIsExactAndErrorWithinHalfAStep) {
  const std::size_t rows = 5, cols = 40;
  auto x = random_floats(rows * cols, -3.0f, 5.0f, 2);
  for (std::size_t j = 0; j < cols; ++j) x[1 * cols + j] = 1.0f + 0.01f * j;  // all positive
  for (std::size_t j = 0; j < cols; ++j) x[2 * cols + j] = 0.0f;              // all zero
  x[3 * cols + 4] = 0.0f;
  const auto q = quantize_rows(x.data(), rows, cols, 8);
  for (std::size_t t = 0; t < rows; ++t) {
    EXPECT_GE(q.zero_points[t], 0);
    EXPECT_LE(q.zero_points[t], 255);
    for (std::size_t j = 0; j < cols; ++j) {
      const float back = q.scales[t] * static_cast<float>(q.values[t * cols + j] - q.zero_points[t]);
      EXPECT_LE(std::abs(back - x[t * cols + j]), 0.5f * q.scales[t] * 1.001f) << t << "," << j;
    }
  }
  EXPECT_EQ(q.zero_points[1], 0);  // range extended to include 0
  EXPECT_EQ(q.scales[2], 1.0f);
  EXPECT_EQ(q.values[3 * cols + 4], q.zero_points[3]);  // 0 maps to the zero point exactly
  const auto q4 = quantize_rows(x.data(), rows, cols, 4);
  for (auto v : q4.values) EXPECT_LE(v, 15);
  x[7] = INFINITY;
  EXPECT_THROW(quantize_rows(x.data(), rows, cols, 8), Error);
}

// Rounding is to nearest, ties to even, as std::nearbyint: the formulas of
// quantize.h recomputed here with the standard library.
TEST(Quantize, MatchesTheFormulasWithNearbyint) {
  const std::size_t n = 9, k = 300;
  auto w = random_floats(n * k, -1.0f, 1.0f, 11);
  w[5] = 0.5f * (1.0f / 127.0f) * 3.0f;  // lands near a tie
  const auto q = quantize_weights_per_channel(w.data(), n, k, 8);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j)
      ASSERT_EQ(q.values[i * k + j], static_cast<std::int8_t>(std::clamp(std::nearbyint(w[i * k + j] * (1.0f / q.scales[i])), -127.0f, 127.0f)))
          << i << "," << j;
  auto x = random_floats(4 * k, -6.0f, 2.0f, 12);
  const auto qx = quantize_rows(x.data(), 4, k, 8);
  for (std::size_t t = 0; t < 4; ++t) {
    const float inv = 1.0f / qx.scales[t];
    for (std::size_t j = 0; j < k; ++j)
      ASSERT_EQ(qx.values[t * k + j],
                static_cast<std::uint8_t>(std::clamp(std::nearbyint(x[t * k + j] * inv) + qx.zero_points[t], 0.0f, 255.0f)));
  }
}

class IntMatmul : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t, std::size_t>> {};

// The dispatched kernel (AVX-512 VNNI here) equals the int64 reference on
// random inputs, tails (k not a multiple of 64, n not of 4) and extremes.
TEST_P(IntMatmul, KernelEqualsReference) {
  const auto [rows, k, n] = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(rows * 1000003 + k * 101 + n));
  std::vector<std::uint8_t> x(rows * k);
  std::vector<std::int8_t> w(n * k);
  for (auto& v : x) v = static_cast<std::uint8_t>(rng());
  for (auto& v : w) v = static_cast<std::int8_t>(rng());
  // Row 0 at the extremes: 255 against -128 and +127.
  for (std::size_t j = 0; j < k; ++j) x[j] = 255;
  for (std::size_t j = 0; j < k; ++j) w[j] = -128;
  if (n > 1) {
    for (std::size_t j = 0; j < k; ++j) w[k + j] = 127;
  }
  std::vector<std::int64_t> got(rows * n, -1), want(rows * n, -2);
  int_matmul(x.data(), rows, k, w.data(), n, got.data());
  int_matmul_reference(x.data(), rows, k, w.data(), n, want.data());
  EXPECT_EQ(got, want) << "kernel " << int_matmul_kernel_name();
  if (rows == 1 && k == 1) std::printf("int_matmul kernel: %s\n", int_matmul_kernel_name());
  EXPECT_EQ(want[0], -128 * 255 * static_cast<std::int64_t>(k));
}

INSTANTIATE_TEST_SUITE_P(Shapes, IntMatmul,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(1, 64, 4), std::make_tuple(3, 65, 5),
                                           std::make_tuple(2, 127, 9), std::make_tuple(4, 768, 13),
                                           std::make_tuple(1, 3072, 7), std::make_tuple(2, 8192, 3)));

TEST(IntMatmul, RangeComputesOnlyItsChannels) {
  const std::size_t rows = 2, k = 70, n = 10;
  std::vector<std::uint8_t> x(rows * k, 3);
  std::vector<std::int8_t> w(n * k, -2);
  std::vector<std::int64_t> acc(rows * n, 7);
  int_matmul_range(x.data(), rows, k, w.data(), n, 3, 6, acc.data());
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(acc[t * n + i], i >= 3 && i < 6 ? -6 * 70 : 7);
  EXPECT_THROW(int_matmul_range(x.data(), rows, k, w.data(), n, 6, 11, acc.data()), Error);
}

// The whole quantized product approximates the float product: error bounded
// by the quantization steps.
TEST(DequantizeProduct, ApproximatesTheFloatProduct) {
  const std::size_t rows = 3, k = 256, n = 32;
  const auto x = random_floats(rows * k, -1.0f, 1.0f, 5);
  const auto w = random_floats(n * k, -0.1f, 0.1f, 6);
  const auto b = random_floats(n, -1.0f, 1.0f, 7);
  const auto qx = quantize_rows(x.data(), rows, k, 8);
  const auto qw = quantize_weights_per_channel(w.data(), n, k, 8);
  std::vector<std::int64_t> acc(rows * n);
  int_matmul(qx.values.data(), rows, k, qw.values.data(), n, acc.data());
  std::vector<float> y(rows * n);
  dequantize_product(acc.data(), qx, qw, b.data(), y.data());
  double worst = 0.0, scale = 0.0;
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < n; ++i) {
      double ref = b[i];
      for (std::size_t j = 0; j < k; ++j) ref += static_cast<double>(x[t * k + j]) * w[i * k + j];
      worst = std::max(worst, std::abs(ref - y[t * n + i]));
      scale = std::max(scale, std::abs(ref));
    }
  std::printf("quantized product: largest error %.3g (largest |y| %.3g)\n", worst, scale);
  EXPECT_LT(worst, 0.02 * scale);
  EXPECT_GT(worst, 0.0);  // it is an approximation, not the float product
}

}  // namespace
}  // namespace fhellm::quant

namespace fhellm {

TEST(QuantizeRows, RefusesNaNAndInfinity) {
  // std::min and std::max skip a NaN: it must still be refused, wherever it is.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const float bad : {nan, -nan, inf, -inf}) {
    for (std::size_t at : {0u, 3u, 7u}) {
      std::vector<float> x(16, 0.5f);
      x[8 + at] = bad;  // row 1
      try {
        quant::quantize_rows(x.data(), 2, 8, 8);
        FAIL() << "accepted " << bad << " at column " << at;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_quantization);
        EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace fhellm
