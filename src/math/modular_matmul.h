// The online mode's clear product on the server (docs/online.md section 3):
//   y[t][j] = (sum_i v[t][i] * w[j][i]) mod p
// with v residues in [0, p), p < 2^30, and w int8 weights (n x k, row-major),
// k <= kModularMatmulMaxInputs. Every sum is exact (no rounding, no
// overflow); y is in [0, p).
//
// Kernels: the reference (int64 arithmetic), AVX2 (v as two 15-bit digits,
// vpmaddwd on weights widened to int16, int32 lanes flushed to int64 every
// 4096 inputs) and AVX-512 VNNI (v as four bytes, vpdpbusd uint8 x int8 into
// int32, exact for k <= 2^16). Rows go through in blocks of up to four that
// share each weight load; outputs in blocks whose weights stay in the cache
// while every row block passes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fhellm::math {

inline constexpr std::size_t kModularMatmulMaxInputs = 8192;
inline constexpr std::uint64_t kModularMatmulMaxModulus = std::uint64_t{1} << 30;

// The rows split into the digits of the kernel chosen now, once per call
// (threads that split the outputs share it). Kept with the kernel it was
// made for; `v` must outlive it. @throws Error(invalid_argument) as modular_matmul.
class ModularRows {
 public:
  ModularRows(const std::uint32_t* v, std::size_t rows, std::size_t k, std::uint64_t p);
  std::size_t rows() const noexcept { return rows_; }
  std::size_t k() const noexcept { return k_; }
  std::uint64_t p() const noexcept { return p_; }

 private:
  friend void modular_matmul_range(const ModularRows&, const std::int8_t*, std::size_t, std::size_t, std::size_t,
                                   std::uint32_t*);
  int kernel_ = 0;
  std::size_t rows_ = 0, k_ = 0, stride_ = 0;
  std::uint64_t p_ = 0;
  const std::uint32_t* v_ = nullptr;  // the scalar kernel reads the residues themselves
  std::vector<std::uint8_t> planes_;  // digit planes (bytes or int16)
};
// Outputs [n_begin, n_end) of the prepared rows; y keeps its row stride n.
// @throws Error(invalid_argument) for an output range outside [0, n).
void modular_matmul_range(const ModularRows& rows, const std::int8_t* w, std::size_t n, std::size_t n_begin,
                          std::size_t n_end, std::uint32_t* y);

// Dispatches to the fastest kernel this CPU has (math/cpu_features.h: the
// FHELLM_NO_SIMD and FHELLM_SIMD=avx2 overrides apply).
// @throws Error(invalid_argument) for k outside 1..kModularMatmulMaxInputs,
//         p outside 2..kModularMatmulMaxModulus or an output range outside [0, n).
//         Values of v >= p are the caller's to refuse (they are reduced, not checked).
void modular_matmul(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                    std::uint64_t p, std::uint32_t* y);
// Only outputs [n_begin, n_end) (threads split the outputs); y keeps its row stride n.
void modular_matmul_range(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w,
                          std::size_t n, std::size_t n_begin, std::size_t n_end, std::uint64_t p, std::uint32_t* y);

// Portable reference, same contract.
void modular_matmul_reference(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w,
                              std::size_t n, std::uint64_t p, std::uint32_t* y);

// "avx512-vnni", "avx2" or "scalar": the kernel modular_matmul uses now.
const char* modular_matmul_kernel_name();

}  // namespace fhellm::math
