#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "fhellm/error.h"

namespace fhellm::quant {
namespace {

void check_bits(int bits, const char* what) {
  require(bits >= 2 && bits <= 8, ErrorCode::bad_quantization,
          std::string(what) + " bits = " + std::to_string(bits) + " is outside [2, 8]");
}

// Round to nearest, ties to even (what std::nearbyint does in the default
// rounding mode), without a libm call: adding 1.5 * 2^23 pushes the fraction
// bits out of the float. Exact for |v| < 2^22; callers pass |v| <= 256.
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;  // not folded: no -ffast-math anywhere in fhellm
}

}  // namespace

void QuantOptions::validate() const {
  check_bits(activation_bits, "activation");
  check_bits(weight_bits, "weight");
}

QuantizedWeights quantize_weights_per_channel(const float* w, std::size_t n_out, std::size_t n_in, int bits) {
  check_bits(bits, "weight");
  const float q_max = static_cast<float>((1 << (bits - 1)) - 1);
  QuantizedWeights q;
  q.n_out = n_out;
  q.n_in = n_in;
  q.bits = bits;
  q.values.resize(n_out * n_in);
  q.scales.resize(n_out);
  q.row_sums.resize(n_out);
  for (std::size_t i = 0; i < n_out; ++i) {
    const float* row = w + i * n_in;
    float max_abs = 0.0f;
    for (std::size_t j = 0; j < n_in; ++j) {
      if (!std::isfinite(row[j])) {
        throw Error(ErrorCode::bad_quantization,
                    "weight row " + std::to_string(i) + " column " + std::to_string(j) + " is not finite");
      }
      max_abs = std::max(max_abs, std::abs(row[j]));
    }
    const float scale = max_abs > 0.0f ? max_abs / q_max : 1.0f;
    const float inv = 1.0f / scale;
    std::int32_t sum = 0;
    std::int8_t* out = &q.values[i * n_in];
    for (std::size_t j = 0; j < n_in; ++j) {
      const float v = std::clamp(round_even(row[j] * inv), -q_max, q_max);
      out[j] = static_cast<std::int8_t>(v);
      sum += out[j];
    }
    q.scales[i] = scale;
    q.row_sums[i] = sum;
  }
  return q;
}

void quantize_rows(const float* x, std::size_t rows, std::size_t cols, int bits, QuantizedRows& q) {
  check_bits(bits, "activation");
  const float levels = static_cast<float>((1 << bits) - 1);
  q.rows = rows;
  q.cols = cols;
  q.bits = bits;
  q.values.resize(rows * cols);
  q.scales.resize(rows);
  q.zero_points.resize(rows);
  for (std::size_t t = 0; t < rows; ++t) {
    const float* row = x + t * cols;
    float lo = 0.0f, hi = 0.0f;
    bool nan = false;  // min and max skip a NaN: it is looked for apart
    for (std::size_t j = 0; j < cols; ++j) {
      lo = std::min(lo, row[j]);
      hi = std::max(hi, row[j]);
      nan |= row[j] != row[j];
    }
    if (nan || !std::isfinite(lo) || !std::isfinite(hi)) {
      throw Error(ErrorCode::bad_quantization, "activation row " + std::to_string(t) + " holds a non-finite value");
    }
    const float scale = hi > lo ? (hi - lo) / levels : 1.0f;
    const float inv = 1.0f / scale;
    const float zp = std::clamp(round_even(-lo * inv), 0.0f, levels);
    std::uint8_t* out = &q.values[t * cols];
    for (std::size_t j = 0; j < cols; ++j) {
      out[j] = static_cast<std::uint8_t>(std::clamp(round_even(row[j] * inv) + zp, 0.0f, levels));
    }
    q.scales[t] = scale;
    q.zero_points[t] = static_cast<std::int32_t>(zp);
  }
}

QuantizedRows quantize_rows(const float* x, std::size_t rows, std::size_t cols, int bits) {
  QuantizedRows q;
  quantize_rows(x, rows, cols, bits, q);
  return q;
}

void dequantize_product(const std::int64_t* acc, const QuantizedRows& x, const QuantizedWeights& w, const float* bias,
                        float* y) {
  if (x.cols != w.n_in) {
    throw Error(ErrorCode::shape_mismatch, "dequantize_product: rows of " + std::to_string(x.cols) +
                                               " values for a layer of " + std::to_string(w.n_in) + " inputs");
  }
  const std::size_t n = w.n_out;
  for (std::size_t t = 0; t < x.rows; ++t) {
    const std::int64_t zp = x.zero_points[t];
    const float sx = x.scales[t];
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t corrected = acc[t * n + i] - zp * w.row_sums[i];
      float v = sx * w.scales[i] * static_cast<float>(corrected);
      if (bias != nullptr) v += bias[i];
      y[t * n + i] = v;
    }
  }
}

}  // namespace fhellm::quant
