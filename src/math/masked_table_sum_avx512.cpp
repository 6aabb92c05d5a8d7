// AVX-512 VNNI kernel of masked_table_sum. Four table rows j..j+3 of 64
// columns are interleaved byte-wise (two unpack rounds, within 128-bit
// lanes) so that each int32 lane holds one column's four bytes; vpdpbusd
// multiplies them, read unsigned (the table byte mod 256), by the four bytes
// v[t][j..j+3] broadcast, read signed (v mod 256), and adds the four products
// to the lane. The int32 lanes wrap mod 2^32, which keeps the sum mod 256;
// three unsigned packs (the inverse of the unpacks) put the low bytes back in
// column order.
//
// Up to three rows (a decoded token) sweep the column range left to right,
// four table rows at a time, prefetching kAheadBytes ahead, their sums in
// memory (L1/L2): the table is then read in order, at the memory's bandwidth.
// More rows go through the table in spans: a span (up to 2048 columns, as
// many rows as fill 32 KB) is interleaved once into a buffer that stays in
// the L1 cache, then every tile of up to kTileRows rows reads it there, the
// sums in registers within a span. Passes over narrow column blocks (the
// usual register-blocked loop) read each table row in short strided pieces
// and ran at a third to a half of the bandwidth on AMD EPYC Zen 4.
// Built with -mavx512f -mavx512bw -mavx512vnni (src/math/CMakeLists.txt).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

constexpr std::size_t kBufferVectors = 512;  // 32 KB: a span, interleaved
constexpr std::size_t kMaxBlockVectors = 32;  // 2048 columns
constexpr std::size_t kNarrowBlockRows = 64;  // from these rows on, blocks of 4 vectors (256 columns)
constexpr std::size_t kAheadBytes = 12 * 1024;  // how far ahead in the table to prefetch
constexpr std::size_t kTileRows = 6;  // 24 sums + 4 table vectors + v: 29 of the 32 registers

constexpr __mmask64 kAllColumns = ~__mmask64{0};

// Table rows to prefetch ahead: kAheadBytes of whole rows, at least one group.
inline std::size_t ahead_rows(std::size_t width) { return std::max<std::size_t>(4, kAheadBytes / width); }

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

// The table's last table_rows % 4 rows, `columns` of them from d0, padded with
// zeros to four rows of `stride` bytes: the last group of four.
std::vector<std::int8_t> last_rows(const MaskedTableArgs& a, std::size_t d0, std::size_t columns,
                                   std::size_t stride) {
  std::vector<std::int8_t> rows(4 * stride, 0);
  for (std::size_t j = a.table_rows / 4 * 4, i = 0; j < a.table_rows; ++j, ++i)
    std::memcpy(&rows[i * stride], a.table + j * a.width + d0, columns);
  return rows;
}

// Every row (R <= 3) over the whole range, swept left to right four table
// rows at a time: a thread then reads its range of each table row in order,
// prefetched kAheadBytes ahead, at the memory's bandwidth; the sums (a
// kilobyte a row and 256 columns) wait in the L1/L2 cache between sweeps.
template <std::size_t R>
void swept(const MaskedTableArgs& a) {
  const std::size_t n = a.d_end - a.d_begin, vectors = (n + 63) / 64, w = a.width;
  const __mmask64 tail = first_columns(n - 64 * (vectors - 1));
  std::vector<std::int32_t> sum_words(vectors * R * 4 * 16, 0);
  auto* sums = reinterpret_cast<__m512i*>(sum_words.data());  // vector c, row r at sums[(c * R + r) * 4]
  const std::vector<std::int8_t> last = last_rows(a, a.d_begin, n, 64 * vectors);
  const std::size_t full = a.table_rows / 4 * 4, ahead = ahead_rows(w);
  for (std::size_t j = 0; j < a.table_rows; j += 4) {
    const bool in_table = j < full;
    const std::int8_t* p = in_table ? a.table + j * w + a.d_begin : last.data();
    const std::size_t stride = in_table ? w : 64 * vectors;
    const bool prefetch = j + ahead + 4 <= full;
    __m512i vb[R];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r) vb[r] = _mm512_set1_epi32(v_word(a.v + r * a.table_rows, j, a.table_rows));
    __m512i* s = sums;
    for (std::size_t c = 0; c < vectors; ++c, p += 64, s += 4 * R) {
      if (prefetch)
        for (std::size_t i = 0; i < 4; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(p + (ahead + i) * w), _MM_HINT_T0);
      __m512i q[4];
      interleave(p, stride, c + 1 == vectors ? tail : kAllColumns, q);
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (std::size_t i = 0; i < 4; ++i)
          _mm512_storeu_si512(s + 4 * r + i, dpbusd(_mm512_loadu_si512(s + 4 * r + i), q[i], vb[r]));
    }
  }
  for (std::size_t c = 0; c < vectors; ++c)
    for (std::size_t r = 0; r < R; ++r) {
      const __m512i* q = sums + (c * R + r) * 4;
      write_bytes(_mm512_loadu_si512(q), _mm512_loadu_si512(q + 1), _mm512_loadu_si512(q + 2),
                  _mm512_loadu_si512(q + 3), c + 1 == vectors ? tail : kAllColumns,
                  a.y + r * w + a.d_begin + 64 * c);
    }
}

// A span: table rows [j0, j1) of `vectors` x 64 columns from d0 (at most
// kMaxBlockVectors), interleaved: vector c, group g (rows j0 + 4 g ..) at
// buffer[(c * groups + g) * 4 ..].
struct Span {
  std::size_t d0, vectors, groups;
  const __mmask64* mask;      // the columns of each vector
  const std::int8_t* last;    // the table's last rows padded to four (last_rows), 64 x vectors bytes a row
};

void pack_span(const MaskedTableArgs& a, const Span& sp, std::size_t j0, std::size_t j1, std::size_t ahead,
               __m512i* buffer) {
  const std::size_t full = a.table_rows / 4 * 4;
  for (std::size_t j = j0, g = 0; j < j1; j += 4, ++g) {
    const bool in_table = j < full;
    const std::int8_t* p = in_table ? a.table + j * a.width + sp.d0 : sp.last;
    const std::size_t stride = in_table ? a.width : 64 * sp.vectors;
    const bool prefetch = j + ahead + 4 <= full;
    for (std::size_t c = 0; c < sp.vectors; ++c) {
      if (prefetch)
        for (std::size_t i = 0; i < 4; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(p + (ahead + i) * a.width + 64 * c), _MM_HINT_T0);
      interleave(p + 64 * c, stride, sp.mask[c], buffer + (c * sp.groups + g) * 4);
    }
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

// Blocks of up to block_vectors x 64 columns, the table in spans of as many
// rows as fill the buffer. Wide blocks read the table in longer runs, which
// counts while memory is the limit; narrow ones make longer spans, fewer trips
// of the sums through memory, which counts when the products are (64 rows and
// more: GPT-2's table on AMD EPYC Zen 4).
void packed(const MaskedTableArgs& a) {
  const std::size_t block_vectors = a.rows < kNarrowBlockRows ? kMaxBlockVectors : 4;
  __m512i buffer[kBufferVectors];  // 32 KB
  // Sums of every row, four vectors for each vector of a block.
  std::vector<std::int32_t> sum_words(block_vectors * a.rows * 4 * 16);
  auto* sums = reinterpret_cast<__m512i*>(sum_words.data());
  const std::size_t ahead = ahead_rows(a.width);
  for (std::size_t d0 = a.d_begin; d0 < a.d_end; d0 += 64 * block_vectors) {
    const std::size_t columns = std::min(64 * block_vectors, a.d_end - d0);
    const std::size_t vectors = (columns + 63) / 64;
    const std::size_t groups = kBufferVectors / 4 / vectors, span_rows = 4 * groups;
    __mmask64 mask[kMaxBlockVectors];
    for (std::size_t c = 0; c < vectors; ++c) mask[c] = first_columns(columns - std::min(columns, 64 * c));
    const std::vector<std::int8_t> last = last_rows(a, d0, columns, 64 * vectors);
    const Span sp{d0, vectors, groups, mask, last.data()};
    for (std::size_t j0 = 0; j0 < a.table_rows; j0 += span_rows) {
      const std::size_t j1 = std::min(a.table_rows, j0 + span_rows);
      pack_span(a, sp, j0, j1, ahead, buffer);
      for (std::size_t c = 0; c < vectors; ++c) {
        const PackedPart part{buffer + c * groups * 4, j0, j1, d0 + 64 * c, mask[c], j0 == 0, j1 == a.table_rows};
        packed_rows(a, part, sums + c * a.rows * 4);
      }
    }
  }
}

}  // namespace

void masked_table_sum_avx512(const MaskedTableArgs& a) {
  switch (a.rows) {
    case 1: swept<1>(a); return;
    case 2: swept<2>(a); return;
    case 3: swept<3>(a); return;
    default: packed(a); return;
  }
}

}  // namespace fhellm::math
