// AVX2 kernel of masked_table_sum. 32 table bytes read as 16 int16 lanes
// hold an even column in each low byte and an odd one in each high byte; the
// low byte of a 16-bit product depends only on the low bytes of its factors,
// so vpmullw by v[t][j] broadcast gives the even columns' products mod 256 in
// the low bytes, and the same on the lanes shifted right by 8 the odd
// columns'. vpaddw wraps mod 2^16, which keeps the low bytes' sums mod 256;
// the even low bytes and the odd ones shifted back make the 32 output bytes
// in column order, with no widening or shuffling.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>
#include <cstdlib>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

// One block of C x 32 columns, rows t0 .. t0 + R - 1, table rows [j0, j1).
// Narrow: one block of the `used` < 32 columns, read and written by copies.
struct Block {
  std::size_t t0, d0, j0, j1, used;
  bool first, last;  // the first span (start from zero) and the last (write y)
};

template <bool Narrow>
inline __m256i load_row(const std::int8_t* p, std::size_t used) {
  if constexpr (Narrow) {
    alignas(32) std::int8_t b[32] = {};
    std::memcpy(b, p, used);
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
  }
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <std::size_t R, std::size_t C, bool Narrow>
void block(const MaskedTableArgs& a, const Block& k, __m256i* scratch) {
  __m256i even[R][C], odd[R][C];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < R * C; ++i) {
    (&even[0][0])[i] = k.first ? _mm256_setzero_si256() : _mm256_loadu_si256(scratch + 2 * i);
    (&odd[0][0])[i] = k.first ? _mm256_setzero_si256() : _mm256_loadu_si256(scratch + 2 * i + 1);
  }
  const std::size_t w = a.width;
  const std::uint8_t* vt[R];
  for (std::size_t r = 0; r < R; ++r) vt[r] = a.v + (k.t0 + r) * a.table_rows;
  const std::int8_t* p = a.table + k.j0 * w + k.d0;
  for (std::size_t j = k.j0; j < k.j1; ++j, p += w) {
#pragma GCC unroll 4
    for (std::size_t c = 0; c < C; ++c) {
      const __m256i raw = load_row<Narrow>(p + 32 * c, k.used);
      const __m256i high = _mm256_srli_epi16(raw, 8);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        const __m256i vb = _mm256_set1_epi8(static_cast<char>(vt[r][j]));
        even[r][c] = _mm256_add_epi16(even[r][c], _mm256_mullo_epi16(raw, vb));
        odd[r][c] = _mm256_add_epi16(odd[r][c], _mm256_mullo_epi16(high, vb));
      }
    }
  }
  if (!k.last) {
#pragma GCC unroll 16
    for (std::size_t i = 0; i < R * C; ++i) {
      _mm256_storeu_si256(scratch + 2 * i, (&even[0][0])[i]);
      _mm256_storeu_si256(scratch + 2 * i + 1, (&odd[0][0])[i]);
    }
    return;
  }
  const __m256i low = _mm256_set1_epi16(0xFF);
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < C; ++c) {
      const __m256i bytes = _mm256_or_si256(_mm256_and_si256(even[r][c], low), _mm256_slli_epi16(odd[r][c], 8));
      std::uint8_t* out = a.y + (k.t0 + r) * w + k.d0 + 32 * c;
      if constexpr (Narrow) {
        alignas(32) std::uint8_t b[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(b), bytes);
        std::memcpy(out, b, k.used);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
      }
    }
}

// Every tile of rows over columns [d0, d0 + C x 32) (the `used` first when Narrow).
template <std::size_t C, bool Narrow>
void column_block(const MaskedTableArgs& a, std::size_t d0, std::size_t used, std::vector<std::int16_t>& scratch) {
  constexpr std::size_t kTile = kMaskedTableRowTile;
  const std::size_t span = a.rows <= kTile ? a.table_rows : kMaskedTableSpanRows;
  for (std::size_t j0 = 0; j0 < a.table_rows; j0 += span) {
    const std::size_t j1 = std::min(a.table_rows, j0 + span);
    const bool first = j0 == 0, last = j1 == a.table_rows;
    std::size_t t0 = 0;
    for (; t0 + kTile <= a.rows; t0 += kTile)
      block<kTile, C, Narrow>(a, {t0, d0, j0, j1, used, first, last}, reinterpret_cast<__m256i*>(scratch.data()) + t0 * C * 2);
    __m256i* s = reinterpret_cast<__m256i*>(scratch.data()) + t0 * C * 2;
    switch (a.rows - t0) {
      case 1: block<1, C, Narrow>(a, {t0, d0, j0, j1, used, first, last}, s); break;
      case 2: block<2, C, Narrow>(a, {t0, d0, j0, j1, used, first, last}, s); break;
      case 3: block<3, C, Narrow>(a, {t0, d0, j0, j1, used, first, last}, s); break;
      default: break;
    }
  }
}


template <std::size_t C>
void columns(const MaskedTableArgs& a, std::vector<std::int16_t>& scratch) {
  std::size_t d = a.d_begin;
  for (; d + 32 * C <= a.d_end; d += 32 * C) column_block<C, false>(a, d, 32 * C, scratch);
  for (; d + 32 <= a.d_end; d += 32) column_block<1, false>(a, d, 32, scratch);
  // The last columns: one block that overlaps the previous one (the columns
  // both cover are written twice with the same bytes).
  if (d < a.d_end) column_block<1, false>(a, a.d_end - 32, 32, scratch);
}

}  // namespace

void masked_table_sum_avx2(const MaskedTableArgs& a) {
  // int16 sums of each row for one column block, kept between spans.
  std::vector<std::int16_t> scratch(a.rows > kMaskedTableRowTile ? a.rows * 2 * 16 * 4 : 0);
  const std::size_t n = a.d_end - a.d_begin;
  if (n < 32) {
    column_block<1, true>(a, a.d_begin, n, scratch);
    return;
  }
  static const int kc = getenv("MTS_C") ? atoi(getenv("MTS_C")) : 1;
  switch (kc) {
    case 4: columns<4>(a, scratch); break;
    case 2: columns<2>(a, scratch); break;
    default: columns<1>(a, scratch); break;
  }
}

}  // namespace fhellm::math
