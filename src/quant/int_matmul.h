// The exact integer matrix product of the quantized linear layers:
//   acc[rows, n] = Xq[rows, k] (uint8) * Wq[n, k]^T (int8),   int64 results.
// This is the product the encrypted `execute` path computes on ciphertexts;
// `simulate` computes it in the clear and both must agree bit for bit.
// |acc| <= k * 255 * 128, so for k < 65793 every partial sum fits in int32
// (the kernels accumulate in int32 and widen at the end).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::quant {

// Largest k the int32-accumulating kernels accept exactly.
inline constexpr std::size_t kMaxIntMatmulInputs = 65535;

// Dispatches to the fastest kernel for this CPU (AVX-512 VNNI when present).
// @throws Error(bad_quantization) for k > kMaxIntMatmulInputs
void int_matmul(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                std::int64_t* acc);

// Only output channels [n_begin, n_end) (for splitting work across threads);
// acc keeps its full row stride n.
void int_matmul_range(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                      std::size_t n_begin, std::size_t n_end, std::int64_t* acc);

// Portable scalar reference with the same contract.
void int_matmul_reference(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                          std::int64_t* acc);

// Name of the kernel int_matmul uses on this CPU ("avx512-vnni", "scalar").
const char* int_matmul_kernel_name();

}  // namespace fhellm::quant
