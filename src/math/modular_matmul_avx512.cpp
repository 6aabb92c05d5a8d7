// AVX-512 VNNI kernel of modular_matmul: residues as four bytes, vpdpbusd
// multiplies 64 uint8 digits by 64 int8 weights and adds each group of four
// products into an int32 lane, exactly. A lane gathers k / 16 products of at
// most 255 * 128, and the 16 lanes k * 255 * 128 < 2^31 for k <= 2^16: the
// int32 sums are exact, joined in int64 (the same integers as the reference).
// GCC 12 flags its own _mm512_reduce_add_epi32 as maybe-uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// Built with -mavx512vnni on top of the AVX-512 flags (src/math/CMakeLists.txt).
#include <immintrin.h>

#include <algorithm>

#include "math/modular_matmul_simd.h"

namespace fhellm::math {
namespace {

constexpr int kDigits = 4;

// Output j for rows t0 .. t0 + R - 1.
template <std::size_t R>
void one_output(const std::uint8_t* planes, std::size_t rows, std::size_t stride, std::size_t t0, std::size_t k,
                const std::int8_t* wr, std::uint64_t p, std::uint32_t* y, std::size_t n) {
  __m512i acc[R][kDigits];
  const std::uint8_t* pd[R][kDigits];
#pragma GCC unroll 4
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int d = 0; d < kDigits; ++d) {
      acc[r][d] = _mm512_setzero_si512();
      pd[r][d] = planes + (static_cast<std::size_t>(d) * rows + t0 + r) * stride;
    }
  const std::size_t full = k / 64 * 64;
  // Fully unrolled, so the accumulators live in registers.
  auto step = [&](__m512i wv, std::size_t i) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int d = 0; d < kDigits; ++d) acc[r][d] = _mm512_dpbusd_epi32(acc[r][d], _mm512_loadu_si512(pd[r][d] + i), wv);
  };
  for (std::size_t i = 0; i < full; i += 64) step(_mm512_loadu_si512(wr + i), i);
  if (full < k) step(_mm512_maskz_loadu_epi8(~0ull >> (64 - (k - full)), wr + full), full);
  for (std::size_t r = 0; r < R; ++r) {
    std::int64_t s = 0;
    for (int d = 0; d < kDigits; ++d) s += static_cast<std::int64_t>(_mm512_reduce_add_epi32(acc[r][d])) << (8 * d);
    y[(t0 + r) * n] = reduce_mod(s, p, 1.0 / static_cast<double>(p));  // |s| < 2^51
  }
}

}  // namespace

void modular_matmul_avx512_vnni(const DigitPlanes& planes, std::size_t k, const std::int8_t* w, std::size_t n_begin,
                                std::size_t n_end, std::size_t n, std::uint64_t p, std::uint32_t* y) noexcept {
  const auto* data = static_cast<const std::uint8_t*>(planes.data);
  const std::size_t rows = planes.rows, stride = planes.stride;
  const std::size_t out_block = std::max<std::size_t>(1, kModularOutputBlockBytes / k);
  for (std::size_t j0 = n_begin; j0 < n_end; j0 += out_block) {
    const std::size_t j1 = std::min(n_end, j0 + out_block);
    std::size_t t0 = 0;
    for (; t0 + kModularRowBlock <= rows; t0 += kModularRowBlock)
      for (std::size_t j = j0; j < j1; ++j) one_output<4>(data, rows, stride, t0, k, w + j * k, p, y + j, n);
    for (; t0 < rows; ++t0)
      for (std::size_t j = j0; j < j1; ++j) one_output<1>(data, rows, stride, t0, k, w + j * k, p, y + j, n);
  }
}

}  // namespace fhellm::math
