// Internal: the SIMD kernels of modular_matmul (modular_matmul.h), on the
// residues already split into digit planes by the dispatcher.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

// Digit planes of T rows of residues: plane d, row t, input i at
// planes[(d * rows + t) * stride + i]; stride >= k, a multiple of the
// kernel's block, zero past k.
struct DigitPlanes {
  const void* data = nullptr;
  std::size_t rows = 0, stride = 0;
};

// AVX2: two int16 planes (v mod 2^15, v >> 15), stride a multiple of 16.
void modular_matmul_avx2(const DigitPlanes& planes, std::size_t k, const std::int8_t* w, std::size_t n_begin,
                         std::size_t n_end, std::size_t n, std::uint64_t p, std::uint32_t* y) noexcept;
// AVX-512 VNNI: four uint8 planes (the bytes of v), stride a multiple of 64.
void modular_matmul_avx512_vnni(const DigitPlanes& planes, std::size_t k, const std::int8_t* w, std::size_t n_begin,
                                std::size_t n_end, std::size_t n, std::uint64_t p, std::uint32_t* y) noexcept;

// Rows per block (sharing each weight load) and outputs per block (whose
// weights stay cached while every row block passes).
inline constexpr std::size_t kModularRowBlock = 4;
inline constexpr std::size_t kModularOutputBlockBytes = 64 * 1024;

// s mod p for |s| < 2^52 (exact in a double), p < 2^30, without a division:
// the quotient estimate from s * (1/p) is off by at most one either way.
inline std::uint32_t reduce_mod(std::int64_t s, std::uint64_t p, double inv_p) noexcept {
  const auto m = static_cast<std::int64_t>(p);
  std::int64_t r = s - static_cast<std::int64_t>(static_cast<double>(s) * inv_p) * m;
  if (r < 0) r += m;
  if (r < 0) r += m;
  if (r >= m) r -= m;
  return static_cast<std::uint32_t>(r);
}

}  // namespace fhellm::math
