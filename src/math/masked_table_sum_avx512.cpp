// AVX-512 VNNI kernel of masked_table_sum. Four table rows j..j+3 of 64
// columns are interleaved byte-wise (two unpack rounds, within 128-bit
// lanes) so that each int32 lane holds one column's four bytes; vpdpbusd
// multiplies them, read unsigned (the table byte mod 256), by the four bytes
// v[t][j..j+3] broadcast, read signed (v mod 256), and adds the four products
// to the lane. The int32 lanes wrap mod 2^32, which keeps the sum mod 256;
// three unsigned packs (the inverse of the unpacks) put the low bytes back in
// column order.
//
// Up to three rows (a decoded token) read the table once, in blocks of
// 256 or 128 columns, every sum in a register. More rows go through the table
// in spans of kSpanRows rows x kBlockColumns columns: a span is interleaved
// once into a buffer that stays in the L1 cache, then every tile of up to
// kTileRows rows reads it there, its sums kept in memory between spans.
// Either way each table row is read at least 128 bytes at a time: passes
// that read 64 bytes a row ran at a third of the speed (GPT-2's table, 3 and
// 4 rows, on AMD EPYC Zen 4).
// Built with -mavx512f -mavx512bw -mavx512vnni (src/math/CMakeLists.txt).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

constexpr std::size_t kSpanRows = 128;
constexpr std::size_t kBlockColumns = 256;
constexpr std::size_t kBlockVectors = kBlockColumns / 64;
constexpr std::size_t kTileRows = 6;  // 24 sums + 4 table vectors + v: 29 of the 32 registers

constexpr __mmask64 kAllColumns = ~__mmask64{0};

// acc + the dot products of a's unsigned and b's signed bytes, by four. In
// assembly: with the intrinsic, GCC 12 copies every accumulator at each use.
inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// v[t][j .. j + 4) as a little-endian int32, zero from table_rows on.
inline std::int32_t v_word(const std::uint8_t* vt, std::size_t j, std::size_t table_rows) {
  std::uint32_t word = 0;
  if (j + 4 <= table_rows) std::memcpy(&word, vt + j, 4);
  else  // bytes, not a memcpy call: a call in the loop would keep the sums in memory
    for (std::size_t i = 0; j + i < table_rows; ++i) word |= std::uint32_t{vt[j + i]} << (8 * i);
  return static_cast<std::int32_t>(word);
}

// The mask of the first `columns` of 64 (none for 0).
inline __mmask64 first_columns(std::size_t columns) {
  if (columns == 0) return 0;
  return columns >= 64 ? kAllColumns : kAllColumns >> (64 - columns);
}

// Four table rows from p, w bytes apart, the columns of mask (the others
// zero), interleaved: lane L of q[i] holds the four rows' bytes of columns
// 16 L + 4 i .. 16 L + 4 i + 3.
inline __attribute__((always_inline)) void interleave(const std::int8_t* p, std::size_t w, __mmask64 mask,
                                                      __m512i q[4]) {
  const __m512i r0 = _mm512_maskz_loadu_epi8(mask, p), r1 = _mm512_maskz_loadu_epi8(mask, p + w);
  const __m512i r2 = _mm512_maskz_loadu_epi8(mask, p + 2 * w), r3 = _mm512_maskz_loadu_epi8(mask, p + 3 * w);
  const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
  const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
  q[0] = _mm512_unpacklo_epi16(lo01, lo23);
  q[1] = _mm512_unpackhi_epi16(lo01, lo23);
  q[2] = _mm512_unpacklo_epi16(hi01, hi23);
  q[3] = _mm512_unpackhi_epi16(hi01, hi23);
}

// The low bytes of the sums of 64 columns, in column order, to out (the
// columns of mask).
inline void write_bytes(__m512i q0, __m512i q1, __m512i q2, __m512i q3, __mmask64 mask, std::uint8_t* out) {
  const __m512i low = _mm512_set1_epi32(0xFF);
  const __m512i b01 = _mm512_packus_epi32(_mm512_and_si512(q0, low), _mm512_and_si512(q1, low));
  const __m512i b23 = _mm512_packus_epi32(_mm512_and_si512(q2, low), _mm512_and_si512(q3, low));
  _mm512_mask_storeu_epi8(out, mask, _mm512_packus_epi16(b01, b23));
}

// The table's last table_rows % 4 rows, `columns` <= Columns of them from d0,
// padded with zeros to four rows of Columns: the last group of four.
template <std::size_t Columns>
struct LastRows {
  alignas(64) std::int8_t bytes[4][Columns] = {};
  LastRows(const MaskedTableArgs& a, std::size_t d0, std::size_t columns) {
    for (std::size_t j = a.table_rows / 4 * 4, i = 0; j < a.table_rows; ++j, ++i)
      std::memcpy(bytes[i], a.table + j * a.width + d0, std::min(columns, Columns));
  }
};

// Every row (R <= 3), `columns` <= C x 64 columns from d0, the whole table.
template <std::size_t R, std::size_t C>
void direct_block(const MaskedTableArgs& a, std::size_t d0, std::size_t columns) {
  // Every index a constant once unrolled, so the sums stay in registers.
  __m512i acc[R][C][4];
#pragma GCC unroll 4
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (std::size_t c = 0; c < C; ++c)
#pragma GCC unroll 4
      for (std::size_t i = 0; i < 4; ++i) acc[r][c][i] = _mm512_setzero_si512();
  __mmask64 mask[C];
  for (std::size_t c = 0; c < C; ++c) mask[c] = first_columns(columns - std::min(columns, 64 * c));
  const LastRows<64 * C> last(a, d0, columns);
  const std::size_t w = a.width, full = a.table_rows / 4 * 4;
  for (std::size_t j = 0; j < a.table_rows; j += 4) {
    // One loop body for the last group too (a second one kept the sums in memory).
    const bool in_table = j < full;
    const std::int8_t* p = in_table ? a.table + j * w + d0 : &last.bytes[0][0];
    const std::size_t stride = in_table ? w : 64 * C;
#pragma GCC unroll 4
    for (std::size_t c = 0; c < C; ++c) {
      __m512i q[4];
      interleave(p + 64 * c, stride, mask[c], q);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        const __m512i vb = _mm512_set1_epi32(v_word(a.v + r * a.table_rows, j, a.table_rows));
#pragma GCC unroll 4
        for (std::size_t i = 0; i < 4; ++i) acc[r][c][i] = dpbusd(acc[r][c][i], q[i], vb);
      }
    }
  }
#pragma GCC unroll 4
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (std::size_t c = 0; c < C; ++c) {
      const __m512i* q = acc[r][c];
      write_bytes(q[0], q[1], q[2], q[3], mask[c], a.y + r * w + d0 + 64 * c);
    }
}

// Every row (R <= 3) in blocks of 4 x 64 columns for one row, 2 x 64
// for two or three (the registers that hold the sums).
template <std::size_t R>
void direct(const MaskedTableArgs& a) {
  constexpr std::size_t kC = R == 1 ? 4 : 2;
  for (std::size_t d = a.d_begin; d < a.d_end; d += 64 * kC)
    direct_block<R, kC>(a, d, std::min(64 * kC, a.d_end - d));
}

// Table rows [j0, j1) of `vectors` x 64 columns from d0, interleaved: vector
// c, group g (rows j0 + 4 g ..) at span[(c * kSpanRows / 4 + g) * 4 ..].
void pack_span(const MaskedTableArgs& a, std::size_t d0, const __mmask64* mask, std::size_t vectors,
               std::size_t j0, std::size_t j1, const LastRows<kBlockColumns>& last, __m512i* span) {
  const std::size_t full = a.table_rows / 4 * 4;
  for (std::size_t j = j0, g = 0; j < j1; j += 4, ++g) {
    const bool in_table = j < full;
    const std::int8_t* p = in_table ? a.table + j * a.width + d0 : &last.bytes[0][0];
    const std::size_t stride = in_table ? a.width : kBlockColumns;
    for (std::size_t c = 0; c < vectors; ++c)
      interleave(p + 64 * c, stride, mask[c], span + (c * kSpanRows / 4 + g) * 4);
  }
}

// Where a tile of packed rows works: one vector of 64 columns of a span.
struct PackedPart {
  const __m512i* span;  // the vector's groups of the span
  std::size_t j0, j1;   // its table rows
  std::size_t d0;       // its first column
  __mmask64 mask;       // its columns
  bool first, last;     // the first span (sums start at zero), the last (bytes to y)
};

// Rows t0 .. t0 + R - 1 over one part: the sums from `sums` (four vectors a
// row) back to `sums`, or their bytes to y after the last span.
template <std::size_t R>
void packed_tile(const MaskedTableArgs& a, const PackedPart& part, std::size_t t0, __m512i* sums) {
  __m512i acc[R][4];  // in registers: every index a constant once unrolled
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (std::size_t i = 0; i < 4; ++i)
      acc[r][i] = part.first ? _mm512_setzero_si512() : _mm512_loadu_si512(sums + 4 * r + i);
  const std::uint8_t* vt = a.v + t0 * a.table_rows;
  const __m512i* span = part.span;
  for (std::size_t j = part.j0; j < part.j1; j += 4, span += 4)
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const __m512i vb = _mm512_set1_epi32(v_word(vt + r * a.table_rows, j, a.table_rows));
#pragma GCC unroll 4
      for (std::size_t i = 0; i < 4; ++i) acc[r][i] = dpbusd(acc[r][i], span[i], vb);
    }
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) {
    if (part.last) {
      write_bytes(acc[r][0], acc[r][1], acc[r][2], acc[r][3], part.mask, a.y + (t0 + r) * a.width + part.d0);
    } else {
#pragma GCC unroll 4
      for (std::size_t i = 0; i < 4; ++i) _mm512_storeu_si512(sums + 4 * r + i, acc[r][i]);
    }
  }
}

// Every row over one part, in tiles of kTileRows rows and one of the rest.
void packed_rows(const MaskedTableArgs& a, const PackedPart& part, __m512i* sums) {
  std::size_t t0 = 0;
  for (; t0 + kTileRows <= a.rows; t0 += kTileRows) packed_tile<kTileRows>(a, part, t0, sums + 4 * t0);
  __m512i* s = sums + 4 * t0;
  switch (a.rows - t0) {
    case 1: packed_tile<1>(a, part, t0, s); break;
    case 2: packed_tile<2>(a, part, t0, s); break;
    case 3: packed_tile<3>(a, part, t0, s); break;
    case 4: packed_tile<4>(a, part, t0, s); break;
    case 5: packed_tile<5>(a, part, t0, s); break;
    default: break;
  }
}

// Blocks of kBlockColumns columns, the table in packed spans of kSpanRows rows.
void packed(const MaskedTableArgs& a) {
  __m512i span[kSpanRows / 4 * kBlockVectors * 4];  // 32 KB
  // Sums of every row, four vectors for each vector of a block.
  std::vector<std::int32_t> sum_words(kBlockVectors * a.rows * 4 * 16);
  auto* sums = reinterpret_cast<__m512i*>(sum_words.data());
  for (std::size_t d0 = a.d_begin; d0 < a.d_end; d0 += kBlockColumns) {
    const std::size_t columns = std::min(kBlockColumns, a.d_end - d0);
    const std::size_t vectors = (columns + 63) / 64;
    __mmask64 mask[kBlockVectors];
    for (std::size_t c = 0; c < kBlockVectors; ++c) mask[c] = first_columns(columns - std::min(columns, 64 * c));
    const LastRows<kBlockColumns> last_rows(a, d0, columns);
    for (std::size_t j0 = 0; j0 < a.table_rows; j0 += kSpanRows) {
      const std::size_t j1 = std::min(a.table_rows, j0 + kSpanRows);
      pack_span(a, d0, mask, vectors, j0, j1, last_rows, span);
      for (std::size_t c = 0; c < vectors; ++c) {
        const PackedPart part{span + c * kSpanRows, j0, j1, d0 + 64 * c, mask[c], j0 == 0, j1 == a.table_rows};
        packed_rows(a, part, sums + c * a.rows * 4);
      }
    }
  }
}

}  // namespace

void masked_table_sum_avx512(const MaskedTableArgs& a) {
  switch (a.rows) {
    case 1: direct<1>(a); return;
    case 2: direct<2>(a); return;
    case 3: direct<3>(a); return;
    default: packed(a); return;
  }
}

}  // namespace fhellm::math
