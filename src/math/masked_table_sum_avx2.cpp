// AVX2 kernel of masked_table_sum. 32 table bytes read as 16 int16 lanes
// hold an even column in each low byte and an odd one in each high byte; the
// low byte of a 16-bit product depends only on the low bytes of its factors,
// so vpmullw by v[t][j] broadcast gives the even columns' products mod 256 in
// the low bytes, and the same on the lanes shifted right by 8 the odd
// columns'. vpaddw wraps mod 2^16, which keeps the low bytes' sums mod 256;
// the even low bytes and the odd ones shifted back make the 32 output bytes
// in column order, with no widening or shuffling.
//
// As in the AVX-512 kernel (masked_table_sum_avx512.cpp, which says why): up
// to three rows sweep the column range left to right, four table rows at a
// time, prefetching kAheadBytes ahead, their sums in memory; more rows go
// through the table in spans copied into a 32 KB buffer that every tile of up
// to kTileRows rows reads, the sums in registers within a span.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

constexpr std::size_t kBufferBytes = 32 * 1024;  // a span
constexpr std::size_t kMaxBlockVectors = 64;     // 2048 columns
constexpr std::size_t kNarrowBlockRows = 64;     // from these rows on, blocks of 8 vectors (256 columns)
constexpr std::size_t kTileRows = 6;             // 12 sums + the table vector, shifted, and v: 15 of 16 registers
constexpr std::size_t kAheadBytes = 12 * 1024;   // how far ahead in the table to prefetch

// Table rows to prefetch ahead: kAheadBytes of whole rows, at least four.
inline std::size_t ahead_rows(std::size_t width) { return std::max<std::size_t>(4, kAheadBytes / width); }

// The 32 output bytes of the sums of one vector: the even columns' low bytes
// and the odd columns' low bytes shifted up.
inline __m256i output_bytes(__m256i even, __m256i odd) {
  return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0xFF)), _mm256_slli_epi16(odd, 8));
}

// Adds G table rows from p (w bytes apart) times v[r][j ..] to the sums of
// R rows of one vector (even, odd for each row, in memory).
template <std::size_t R, std::size_t G>
inline __attribute__((always_inline)) void add_rows(const std::int8_t* p, std::size_t w, const __m256i (*vb)[G],
                                                    __m256i* s) {
  __m256i even[R], odd[R];
#pragma GCC unroll 4
  for (std::size_t r = 0; r < R; ++r) {
    even[r] = _mm256_loadu_si256(s + 2 * r);
    odd[r] = _mm256_loadu_si256(s + 2 * r + 1);
  }
#pragma GCC unroll 4
  for (std::size_t g = 0; g < G; ++g) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + g * w));
    const __m256i high = _mm256_srli_epi16(raw, 8);
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r) {
      even[r] = _mm256_add_epi16(even[r], _mm256_mullo_epi16(raw, vb[r][g]));
      odd[r] = _mm256_add_epi16(odd[r], _mm256_mullo_epi16(high, vb[r][g]));
    }
  }
#pragma GCC unroll 4
  for (std::size_t r = 0; r < R; ++r) {
    _mm256_storeu_si256(s + 2 * r, even[r]);
    _mm256_storeu_si256(s + 2 * r + 1, odd[r]);
  }
}

// Table rows [j, j + G) over every vector of the sweep (vector c at column
// off[c], its sums at sums[2 R c ..]).
template <std::size_t R, std::size_t G>
void sweep(const MaskedTableArgs& a, std::size_t j, const std::vector<std::size_t>& off, std::size_t ahead,
           __m256i* sums) {
  __m256i vb[R][G];
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t g = 0; g < G; ++g)
      vb[r][g] = _mm256_set1_epi8(static_cast<char>(a.v[r * a.table_rows + j + g]));
  const std::int8_t* p = a.table + j * a.width;
  const bool prefetch = j + ahead + G <= a.table_rows;
  for (std::size_t c = 0; c < off.size(); ++c) {
    if (prefetch)
      for (std::size_t g = 0; g < G; ++g)
        _mm_prefetch(reinterpret_cast<const char*>(p + (ahead + g) * a.width + off[c]), _MM_HINT_T0);
    add_rows<R, G>(p + off[c], a.width, vb, sums + 2 * R * c);
  }
}

// Every row (R <= 3) over the range (at least 32 columns), swept left to
// right. Vector c starts at column off[c]; the last starts at d_end - 32,
// overlapping the one before (the columns both cover get the same bytes twice).
template <std::size_t R>
void swept(const MaskedTableArgs& a) {
  const std::size_t n = a.d_end - a.d_begin, vectors = (n + 31) / 32;
  std::vector<std::size_t> off(vectors);
  for (std::size_t c = 0; c < vectors; ++c) off[c] = std::min(a.d_begin + 32 * c, a.d_end - 32);
  std::vector<std::int16_t> sum_words(vectors * R * 2 * 16, 0);
  auto* sums = reinterpret_cast<__m256i*>(sum_words.data());
  const std::size_t ahead = ahead_rows(a.width);
  std::size_t j = 0;
  for (; j + 4 <= a.table_rows; j += 4) sweep<R, 4>(a, j, off, ahead, sums);
  for (; j < a.table_rows; ++j) sweep<R, 1>(a, j, off, ahead, sums);
  for (std::size_t c = 0; c < vectors; ++c)
    for (std::size_t r = 0; r < R; ++r) {
      const __m256i* s = sums + 2 * (R * c + r);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.y + r * a.width + off[c]),
                          output_bytes(_mm256_loadu_si256(s), _mm256_loadu_si256(s + 1)));
    }
}

// Where a tile of packed rows works: one vector (32 columns) of a span.
struct PackedPart {
  const std::int8_t* span;  // the vector's first byte in the span's first row
  std::size_t stride;       // bytes from one span row to the next
  std::size_t j0, j1;       // the span's table rows
  std::size_t d0, columns;  // the vector's first column, and how many of its 32 are in the range
  bool first, last;         // the first span (sums start at zero), the last (bytes to y)
};

// Rows t0 .. t0 + R - 1 over one part: the sums from `sums` (two vectors a
// row) back to `sums`, or their bytes to y after the last span.
template <std::size_t R>
void packed_tile(const MaskedTableArgs& a, const PackedPart& part, std::size_t t0, __m256i* sums) {
  __m256i even[R], odd[R];  // in registers: every index a constant once unrolled
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) {
    even[r] = part.first ? _mm256_setzero_si256() : _mm256_loadu_si256(sums + 2 * r);
    odd[r] = part.first ? _mm256_setzero_si256() : _mm256_loadu_si256(sums + 2 * r + 1);
  }
  const std::uint8_t* vt = a.v + t0 * a.table_rows;
  const std::int8_t* p = part.span;
  for (std::size_t j = part.j0; j < part.j1; ++j, p += part.stride) {
    const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i high = _mm256_srli_epi16(raw, 8);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const __m256i vb = _mm256_set1_epi8(static_cast<char>(vt[r * a.table_rows + j]));
      even[r] = _mm256_add_epi16(even[r], _mm256_mullo_epi16(raw, vb));
      odd[r] = _mm256_add_epi16(odd[r], _mm256_mullo_epi16(high, vb));
    }
  }
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) {
    if (!part.last) {
      _mm256_storeu_si256(sums + 2 * r, even[r]);
      _mm256_storeu_si256(sums + 2 * r + 1, odd[r]);
      continue;
    }
    std::uint8_t* out = a.y + (t0 + r) * a.width + part.d0;
    const __m256i bytes = output_bytes(even[r], odd[r]);
    if (part.columns == 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
    } else {
      alignas(32) std::uint8_t b[32];
      _mm256_store_si256(reinterpret_cast<__m256i*>(b), bytes);
      std::memcpy(out, b, part.columns);
    }
  }
}

// Every row over one part, in tiles of kTileRows rows and one of the rest.
void packed_rows(const MaskedTableArgs& a, const PackedPart& part, __m256i* sums) {
  std::size_t t0 = 0;
  for (; t0 + kTileRows <= a.rows; t0 += kTileRows) packed_tile<kTileRows>(a, part, t0, sums + 2 * t0);
  __m256i* s = sums + 2 * t0;
  switch (a.rows - t0) {
    case 1: packed_tile<1>(a, part, t0, s); break;
    case 2: packed_tile<2>(a, part, t0, s); break;
    case 3: packed_tile<3>(a, part, t0, s); break;
    case 4: packed_tile<4>(a, part, t0, s); break;
    case 5: packed_tile<5>(a, part, t0, s); break;
    default: break;
  }
}

// Blocks of up to block_vectors x 32 columns, the table in spans of as many
// rows as fill the buffer, copied there (zero past the range's columns).
void packed(const MaskedTableArgs& a) {
  const std::size_t block_vectors = a.rows < kNarrowBlockRows ? kMaxBlockVectors : 8;
  std::vector<std::int16_t> sum_words(block_vectors * a.rows * 2 * 16);  // two vectors a row and vector
  auto* sums = reinterpret_cast<__m256i*>(sum_words.data());
  alignas(32) std::int8_t buffer[kBufferBytes];
  const std::size_t ahead = ahead_rows(a.width);
  for (std::size_t d0 = a.d_begin; d0 < a.d_end; d0 += 32 * block_vectors) {
    const std::size_t columns = std::min(32 * block_vectors, a.d_end - d0);
    const std::size_t vectors = (columns + 31) / 32, stride = 32 * vectors, span_rows = kBufferBytes / stride;
    std::memset(buffer, 0, sizeof buffer);
    for (std::size_t j0 = 0; j0 < a.table_rows; j0 += span_rows) {
      const std::size_t j1 = std::min(a.table_rows, j0 + span_rows);
      for (std::size_t j = j0; j < j1; ++j) {
        const std::int8_t* row = a.table + j * a.width + d0;
        if (j + ahead < a.table_rows)
          for (std::size_t c = 0; c < columns; c += 64)
            _mm_prefetch(reinterpret_cast<const char*>(row + ahead * a.width + c), _MM_HINT_T0);
        std::memcpy(buffer + (j - j0) * stride, row, columns);
      }
      for (std::size_t c = 0; c < vectors; ++c) {
        const PackedPart part{buffer + 32 * c,   stride, j0, j1, d0 + 32 * c,
                              std::min<std::size_t>(32, columns - 32 * c), j0 == 0, j1 == a.table_rows};
        packed_rows(a, part, sums + c * a.rows * 2);
      }
    }
  }
}

}  // namespace

void masked_table_sum_avx2(const MaskedTableArgs& a) {
  if (a.d_end - a.d_begin < 32) {  // narrower than a vector: copied
    packed(a);
    return;
  }
  switch (a.rows) {
    case 1: swept<1>(a); return;
    case 2: swept<2>(a); return;
    case 3: swept<3>(a); return;
    default: packed(a); return;
  }
}

}  // namespace fhellm::math
