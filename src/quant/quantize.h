// Quantization of the linear layers, as the encrypted product sees them.
//
// Weights: symmetric, per output channel (row of W [n_out, n_in]):
//   scale_i = max_j |W_ij| / q_max,  Wq_ij = round(W_ij / scale_i) in [-q_max, q_max],
//   q_max = 2^(weight_bits-1) - 1 (127 for 8 bits). Done once at load.
// Activations: asymmetric, per row (token), unsigned:
//   range [lo, hi] = [min(0, min_j x_j), max(0, max_j x_j)] (0 exactly representable),
//   scale = (hi - lo) / (2^bits - 1), zero_point = round(-lo / scale) in [0, 2^bits - 1],
//   Xq_j = clamp(round(x_j / scale) + zero_point, 0, 2^bits - 1)   (uint8 for bits <= 8).
//   A row of zeros gets scale 1, zero point 0.
// Product (see int_matmul.h): with A = Xq Wq^T computed exactly in integers,
//   y_ti = scale_t * wscale_i * (A_ti - zero_point_t * rowsum_i(Wq)) + bias_i.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fhellm::quant {

struct QuantOptions {
  int activation_bits = 8;  // 2..8, unsigned with a zero point
  int weight_bits = 8;      // 2..8, symmetric
  // @throws Error(bad_quantization) outside the ranges above
  void validate() const;
};

// Quantized W [n_out, n_in]: int8 values, one scale and one row sum per output.
struct QuantizedWeights {
  std::size_t n_out = 0, n_in = 0;
  int bits = 8;
  std::vector<std::int8_t> values;      // [n_out, n_in] row-major
  std::vector<float> scales;            // [n_out]
  std::vector<std::int32_t> row_sums;   // [n_out], sum_j values[i, j]
};

// Per-row quantized activations X [rows, cols].
struct QuantizedRows {
  std::size_t rows = 0, cols = 0;
  int bits = 8;
  std::vector<std::uint8_t> values;     // [rows, cols]
  std::vector<float> scales;            // [rows]
  std::vector<std::int32_t> zero_points;  // [rows]
};

// @throws Error(bad_quantization) for bits outside 2..8 or a non-finite weight
QuantizedWeights quantize_weights_per_channel(const float* w, std::size_t n_out, std::size_t n_in, int bits = 8);

// @throws Error(bad_quantization) for bits outside 2..8 or a non-finite value
QuantizedRows quantize_rows(const float* x, std::size_t rows, std::size_t cols, int bits = 8);
// Same, reusing `out`'s buffers (the per-token hot path).
void quantize_rows(const float* x, std::size_t rows, std::size_t cols, int bits, QuantizedRows& out);

// y[rows, n_out] = scale_t * wscale_i * (acc_ti - zp_t * rowsum_i) + bias_i,
// from the exact integer product acc = Xq Wq^T. `bias` may be null.
void dequantize_product(const std::int64_t* acc, const QuantizedRows& x, const QuantizedWeights& w,
                        const float* bias, float* y);

}  // namespace fhellm::quant
