// AVX2 kernel of masked_table_sum. 32 table bytes read as 16 int16 lanes
// hold an even column in each low byte and an odd one in each high byte; the
// low byte of a 16-bit product depends only on the low bytes of its factors,
// so vpmullw by v[t][j] broadcast gives the even columns' products mod 256 in
// the low bytes, and the same on the lanes shifted right by 8 the odd
// columns'. vpaddw wraps mod 2^16, which keeps the low bytes' sums mod 256;
// the even low bytes and the odd ones shifted back make the 32 output bytes
// in column order, with no widening or shuffling.
//
// A decoded token (one row) reads the table once in blocks of 128 columns,
// every sum in a register. More rows go through the table in spans of
// kSpanRows rows x kBlockColumns columns copied into a buffer that stays in
// the L1 cache; every tile of up to kTileRows rows then reads it there, its
// sums kept in memory between spans.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

constexpr std::size_t kDirectVectors = 4;  // one row: 128 columns a pass
constexpr std::size_t kSpanRows = 128;
constexpr std::size_t kBlockColumns = 256;
constexpr std::size_t kBlockVectors = kBlockColumns / 32;
constexpr std::size_t kTileRows = 6;  // 12 sums + the table vector, shifted, and v: 15 of the 16 registers

// The 32 output bytes of the sums of one vector: the even columns' low bytes
// and the odd columns' low bytes shifted up.
inline __m256i output_bytes(__m256i even, __m256i odd) {
  return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0xFF)), _mm256_slli_epi16(odd, 8));
}

// One row, kDirectVectors x 32 columns at off[..] (within the range), the
// whole table.
void direct_block(const MaskedTableArgs& a, const std::size_t* off) {
  __m256i even[kDirectVectors], odd[kDirectVectors];  // in registers: constant indices once unrolled
#pragma GCC unroll 4
  for (std::size_t c = 0; c < kDirectVectors; ++c) even[c] = odd[c] = _mm256_setzero_si256();
  const std::int8_t* p = a.table;
  for (std::size_t j = 0; j < a.table_rows; ++j, p += a.width) {
    const __m256i vb = _mm256_set1_epi8(static_cast<char>(a.v[j]));
#pragma GCC unroll 4
    for (std::size_t c = 0; c < kDirectVectors; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + off[c]));
      even[c] = _mm256_add_epi16(even[c], _mm256_mullo_epi16(raw, vb));
      odd[c] = _mm256_add_epi16(odd[c], _mm256_mullo_epi16(_mm256_srli_epi16(raw, 8), vb));
    }
  }
#pragma GCC unroll 4
  for (std::size_t c = 0; c < kDirectVectors; ++c)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.y + off[c]), output_bytes(even[c], odd[c]));
}

// One row, columns [d_begin, d_end) (at least 32) in blocks of kDirectVectors
// vectors; the last vectors start at d_end - 32, overlapping the ones before
// (the columns both cover get the same bytes twice).
void direct_row(const MaskedTableArgs& a) {
  for (std::size_t d = a.d_begin; d < a.d_end; d += 32 * kDirectVectors) {
    std::size_t off[kDirectVectors];
    for (std::size_t c = 0; c < kDirectVectors; ++c) off[c] = std::min(d + 32 * c, a.d_end - 32);
    direct_block(a, off);
  }
}

// Rows t0 .. t0 + R - 1 over one vector (32 columns) of a span: table rows
// [j0, j1) at span[(j - j0) * kBlockColumns], the sums from `sums` (two
// vectors a row) back to `sums`, or their bytes (`columns` of them) to y
// after the last span.
struct PackedPart {
  const std::int8_t* span;  // the vector's first byte in the span's first row
  std::size_t j0, j1;       // the span's table rows
  std::size_t d0, columns;  // the vector's first column, and how many of its 32 are in the range
  bool first, last;         // the first span (sums start at zero), the last (bytes to y)
};

template <std::size_t R>
void packed_tile(const MaskedTableArgs& a, const PackedPart& part, std::size_t t0, __m256i* sums) {
  __m256i even[R], odd[R];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) {
    even[r] = part.first ? _mm256_setzero_si256() : _mm256_loadu_si256(sums + 2 * r);
    odd[r] = part.first ? _mm256_setzero_si256() : _mm256_loadu_si256(sums + 2 * r + 1);
  }
  const std::uint8_t* vt = a.v + t0 * a.table_rows;
  const std::int8_t* p = part.span;
  for (std::size_t j = part.j0; j < part.j1; ++j, p += kBlockColumns) {
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

// Blocks of kBlockColumns columns, the table in spans of kSpanRows rows copied
// to a buffer (zero past the range's columns).
void packed(const MaskedTableArgs& a) {
  alignas(32) std::int8_t span[kSpanRows][kBlockColumns];  // 32 KB
  // Sums of every row, two vectors for each vector of a block.
  std::vector<std::int16_t> sum_words(kBlockVectors * a.rows * 2 * 16);
  auto* sums = reinterpret_cast<__m256i*>(sum_words.data());
  for (std::size_t d0 = a.d_begin; d0 < a.d_end; d0 += kBlockColumns) {
    const std::size_t columns = std::min(kBlockColumns, a.d_end - d0);
    const std::size_t vectors = (columns + 31) / 32;
    std::memset(span, 0, sizeof span);
    for (std::size_t j0 = 0; j0 < a.table_rows; j0 += kSpanRows) {
      const std::size_t j1 = std::min(a.table_rows, j0 + kSpanRows);
      for (std::size_t j = j0; j < j1; ++j) std::memcpy(span[j - j0], a.table + j * a.width + d0, columns);
      for (std::size_t c = 0; c < vectors; ++c) {
        const PackedPart part{&span[0][32 * c], j0, j1, d0 + 32 * c, std::min<std::size_t>(32, columns - 32 * c),
                              j0 == 0, j1 == a.table_rows};
        packed_rows(a, part, sums + c * a.rows * 2);
      }
    }
  }
}

}  // namespace

void masked_table_sum_avx2(const MaskedTableArgs& a) {
  if (a.rows == 1 && a.d_end - a.d_begin >= 32) direct_row(a);
  else packed(a);
}

}  // namespace fhellm::math
