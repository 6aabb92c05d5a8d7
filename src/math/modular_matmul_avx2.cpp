// AVX2 kernel of modular_matmul: residues as two 15-bit digits (int16), the
// weights widened to int16 once per block of rows, vpmaddwd into int32 lanes.
// One madd adds at most 2 * (2^15 - 1) * 128 < 2^23 to a lane, so 256 of them
// (4096 inputs) fit in int32; the lanes are widened to int64 after each such
// span. Sums are exact: the same integers as the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "math/modular_matmul_simd.h"

namespace fhellm::math {
namespace {

constexpr std::size_t kSpan = 4096;  // inputs per int32 accumulation

inline std::int64_t sum_lanes(__m256i v) {
  const __m256i wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
  return _mm_cvtsi128_si64(half) + _mm_extract_epi64(half, 1);
}

// Output j for rows t0 .. t0 + R - 1.
template <std::size_t R>
void one_output(const std::int16_t* planes, std::size_t rows, std::size_t stride, std::size_t t0, std::size_t k,
                const std::int8_t* wr, std::uint64_t p, std::uint32_t* y, std::size_t n) {
  std::int64_t lo[R] = {}, hi[R] = {};
  const std::int16_t* plo[R];
  const std::int16_t* phi[R];
  for (std::size_t r = 0; r < R; ++r) {
    plo[r] = planes + (t0 + r) * stride;
    phi[r] = planes + (rows + t0 + r) * stride;
  }
  const std::size_t full = k / 16 * 16;
  for (std::size_t begin = 0; begin < k; begin += kSpan) {
    const std::size_t end = std::min(k, begin + kSpan);
    __m256i alo[R], ahi[R];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r) alo[r] = ahi[r] = _mm256_setzero_si256();
    // Fully unrolled, so the accumulators live in registers.
    auto step = [&](__m128i w8, std::size_t i) __attribute__((always_inline)) {
      const __m256i w16 = _mm256_cvtepi8_epi16(w8);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        alo[r] = _mm256_add_epi32(alo[r], _mm256_madd_epi16(w16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plo[r] + i))));
        ahi[r] = _mm256_add_epi32(ahi[r], _mm256_madd_epi16(w16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(phi[r] + i))));
      }
    };
    std::size_t i = begin;
    for (; i + 16 <= std::min(end, full); i += 16) step(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr + i)), i);
    if (i < end) {  // the row's last inputs: never read past the weights (the digits are zero-padded)
      alignas(16) std::int8_t tail[16] = {};
      std::memcpy(tail, wr + i, end - i);
      step(_mm_load_si128(reinterpret_cast<const __m128i*>(tail)), i);
    }
    for (std::size_t r = 0; r < R; ++r) {
      lo[r] += sum_lanes(alo[r]);
      hi[r] += sum_lanes(ahi[r]);
    }
  }
  const double inv_p = 1.0 / static_cast<double>(p);
  // |lo| < 2^37, |hi| < 2^37: lo + 2^15 hi < 2^52.
  for (std::size_t r = 0; r < R; ++r) y[(t0 + r) * n] = reduce_mod(lo[r] + (hi[r] << 15), p, inv_p);
}

}  // namespace

void modular_matmul_avx2(const DigitPlanes& planes, std::size_t k, const std::int8_t* w, std::size_t n_begin,
                         std::size_t n_end, std::size_t n, std::uint64_t p, std::uint32_t* y) noexcept {
  const auto* data = static_cast<const std::int16_t*>(planes.data);
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
