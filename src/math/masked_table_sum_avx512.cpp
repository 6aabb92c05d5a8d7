// AVX-512 VNNI kernel of masked_table_sum. Four table rows j..j+3 of 64
// columns are interleaved byte-wise (two unpack rounds, within 128-bit
// lanes) so that each int32 lane holds one column's four bytes; vpdpbusd
// multiplies them, read unsigned (the table byte mod 256), by the four bytes
// v[t][j..j+3] broadcast, read signed (v mod 256), and adds the four products
// to the lane. The int32 lanes wrap mod 2^32, which keeps the sum mod 256;
// three unsigned packs (the inverse of the unpacks) put the low bytes back in
// column order.
// GCC 12 flags its own mask intrinsics as maybe-uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// Built with -mavx512vnni on top of the AVX-512 flags (src/math/CMakeLists.txt).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

// One block of C x 64 columns (the last C x 64 - used of them masked off when
// Masked), rows t0 .. t0 + R - 1, table rows [j0, j1).
struct Block {
  std::size_t t0, d0, j0, j1;
  __mmask64 mask;  // the columns of the last 64 (all of them unless Masked)
  bool first, last;  // the first span (start from zero) and the last (write y)
};

template <bool Masked>
inline __m512i load_row(const std::int8_t* p, __mmask64 mask) {
  if constexpr (Masked) return _mm512_maskz_loadu_epi8(mask, p);
  return _mm512_loadu_si512(p);
}

// v[t][j..j+n) as a little-endian int32, zero past n (n <= 4).
inline std::int32_t v_word(const std::uint8_t* vt, std::size_t n) {
  std::uint8_t b[4] = {};
  std::memcpy(b, vt, n);
  std::int32_t w;
  std::memcpy(&w, b, 4);
  return w;
}

template <std::size_t R, std::size_t C, bool Masked>
void block(const MaskedTableArgs& a, const Block& k, __m512i* scratch) {
  __m512i acc[R][C][4];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < R * C * 4; ++i)
    (&acc[0][0][0])[i] = k.first ? _mm512_setzero_si512() : _mm512_loadu_si512(scratch + i);
  const std::size_t w = a.width;
  const std::uint8_t* vt[R];
  for (std::size_t r = 0; r < R; ++r) vt[r] = a.v + (k.t0 + r) * a.table_rows;
  // Four table rows (rows past the table read as zero, their v bytes too).
  auto step = [&](const std::int8_t* p, std::size_t j, std::size_t n) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (std::size_t c = 0; c < C; ++c) {
      const __mmask64 m = c + 1 == C ? k.mask : ~__mmask64{0};
      const std::int8_t* pc = p + 64 * c;
      const __m512i r0 = load_row<Masked>(pc, m);
      const __m512i r1 = n > 1 ? load_row<Masked>(pc + w, m) : _mm512_setzero_si512();
      const __m512i r2 = n > 2 ? load_row<Masked>(pc + 2 * w, m) : _mm512_setzero_si512();
      const __m512i r3 = n > 3 ? load_row<Masked>(pc + 3 * w, m) : _mm512_setzero_si512();
      const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
      const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
      // Lane L of q[i]: columns 16 L + 4 i .. 16 L + 4 i + 3.
      const __m512i q[4] = {_mm512_unpacklo_epi16(lo01, lo23), _mm512_unpackhi_epi16(lo01, lo23),
                            _mm512_unpacklo_epi16(hi01, hi23), _mm512_unpackhi_epi16(hi01, hi23)};
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        std::int32_t word;
        if (n == 4) std::memcpy(&word, vt[r] + j, 4);
        else word = v_word(vt[r] + j, n);
        const __m512i vb = _mm512_set1_epi32(word);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) acc[r][c][i] = _mm512_dpbusd_epi32(acc[r][c][i], q[i], vb);
      }
    }
  };
  const std::int8_t* p = a.table + k.j0 * w + k.d0;
  std::size_t j = k.j0;
  for (; j + 4 <= k.j1; j += 4, p += 4 * w) step(p, j, 4);
  if (j < k.j1) step(p, j, k.j1 - j);
  if (!k.last) {
#pragma GCC unroll 16
    for (std::size_t i = 0; i < R * C * 4; ++i) _mm512_storeu_si512(scratch + i, (&acc[0][0][0])[i]);
    return;
  }
  const __m512i low = _mm512_set1_epi32(0xFF);
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < C; ++c) {
      const __m512i* q = acc[r][c];
      const __m512i b01 = _mm512_packus_epi32(_mm512_and_si512(q[0], low), _mm512_and_si512(q[1], low));
      const __m512i b23 = _mm512_packus_epi32(_mm512_and_si512(q[2], low), _mm512_and_si512(q[3], low));
      std::uint8_t* out = a.y + (k.t0 + r) * w + k.d0 + 64 * c;
      const __m512i bytes = _mm512_packus_epi16(b01, b23);
      if (Masked && c + 1 == C) _mm512_mask_storeu_epi8(out, k.mask, bytes);
      else _mm512_storeu_si512(out, bytes);
    }
}

// Every tile of rows over columns [d0, d0 + C x 64) (fewer when Masked).
template <std::size_t C, bool Masked>
void column_block(const MaskedTableArgs& a, std::size_t d0, __mmask64 mask, std::vector<std::int32_t>& scratch) {
  constexpr std::size_t kTile = kMaskedTableRowTile;
  const std::size_t span = a.rows <= kTile ? a.table_rows : kMaskedTableSpanRows;
  for (std::size_t j0 = 0; j0 < a.table_rows; j0 += span) {
    const std::size_t j1 = std::min(a.table_rows, j0 + span);
    const bool first = j0 == 0, last = j1 == a.table_rows;
    std::size_t t0 = 0;
    for (; t0 + kTile <= a.rows; t0 += kTile)
      block<kTile, C, Masked>(a, {t0, d0, j0, j1, mask, first, last}, reinterpret_cast<__m512i*>(scratch.data()) + t0 * C * 4);
    __m512i* s = reinterpret_cast<__m512i*>(scratch.data()) + t0 * C * 4;
    switch (a.rows - t0) {
      case 1: block<1, C, Masked>(a, {t0, d0, j0, j1, mask, first, last}, s); break;
      case 2: block<2, C, Masked>(a, {t0, d0, j0, j1, mask, first, last}, s); break;
      case 3: block<3, C, Masked>(a, {t0, d0, j0, j1, mask, first, last}, s); break;
      default: break;
    }
  }
}

}  // namespace

void masked_table_sum_avx512(const MaskedTableArgs& a) {
  // int32 sums of each row for one column block, kept between spans.
  std::vector<std::int32_t> scratch(a.rows > kMaskedTableRowTile ? a.rows * 4 * 16 : 0);
  std::size_t d = a.d_begin;
  for (; d + 64 <= a.d_end; d += 64) column_block<1, false>(a, d, ~__mmask64{0}, scratch);
  if (d < a.d_end) column_block<1, true>(a, d, ~__mmask64{0} >> (64 - (a.d_end - d)), scratch);
}

}  // namespace fhellm::math
