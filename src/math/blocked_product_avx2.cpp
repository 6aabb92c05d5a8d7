// AVX2 blocked products: one row and one entry per pass, eight accumulators
// of four 64-bit sums (a block is two vectors; the even and odd 32-bit words
// of each are slots 0-3 / 8-11 and 4-7 / 12-15, see blocked_slot_word).
#include <immintrin.h>

#include <algorithm>

#include "math/blocked_product.h"
#include "math/blocked_product_simd.h"
#include "math/simd_avx2.h"

namespace fhellm::math {
namespace {

using avx2::load;
using avx2::store;

// Where a unit's two vectors of 8 weight words come from: unpacked words, or
// the packed 27-bit units themselves (unpacked in registers: the weight
// stream from memory and the multiplications overlap).
struct Words {
  const std::uint32_t* w;
  void operator()(std::size_t unit, int v, __m256i& even, __m256i& odd) const {
    even = load(w + unit * kSlotBlock + v * 8);
    odd = _mm256_srli_epi64(even, 32);
  }
};

struct Packed27 {
  // Eight words from 27 bytes, two per qword: qword j holds the 8 bytes from
  // floor(54 j / 8) (bytes 0..15 in the low 128-bit lane, 13..28 in the high
  // one, so that one in-lane byte shuffle reaches them), its words at bit
  // offsets o_j = 54 j mod 8 and o_j + 27. The product reads the low 32 bits
  // of each qword (vpmuludq), so the even words are the qwords shifted by
  // o_j and the odd ones those shifted by 27 more, each masked.
  const std::uint8_t* packed;
  __m256i shuffle = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8, 9, 10, 11, 12, 13,  //
                                     0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14);
  __m256i shift = _mm256_setr_epi64x(0, 6, 4, 2), low27 = _mm256_set1_epi64x((1 << kPackedWordBits) - 1);
  void operator()(std::size_t unit, int v, __m256i& even, __m256i& odd) const {
    const std::uint8_t* p = packed + unit * kPackedUnitBytes + kPackedUnitBytes / 2 * v;
    const __m256i b = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 13)),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i pairs = _mm256_srlv_epi64(_mm256_shuffle_epi8(b, shuffle), shift);
    even = _mm256_and_si256(pairs, low27);
    odd = _mm256_and_si256(_mm256_srli_epi64(pairs, kPackedWordBits), low27);
  }
};

// acc[p * 4 + v * 2 + h]: part p, vector v of the block, half h (even/odd
// words). The sums live in a local array for the loop: __m256i may alias
// anything, so through the caller's pointer every store would reach memory.
template <typename Source, typename Ahead>
void run_terms(const std::uint32_t* x, const Source& w, std::size_t first_unit, std::size_t m0, std::size_t m1,
               __m256i* sums, Ahead& ahead) {
  __m256i acc[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) acc[i] = sums[i];
  for (std::size_t m = m0; m < m1; ++m) {
    ahead.line();  // one unit of 54 bytes read per term
    const std::uint32_t* xm = x + m * 2 * kSlotBlock;
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v) {
      __m256i wv, wo;
      w(first_unit + m, v, wv, wo);
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
        const __m256i xv = load(xm + p * kSlotBlock + v * 8);
        __m256i* a = acc + p * 4 + v * 2;
        a[0] = _mm256_add_epi64(a[0], _mm256_mul_epu32(xv, wv));
        a[1] = _mm256_add_epi64(a[1], _mm256_mul_epu32(_mm256_srli_epi64(xv, 32), wo));
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) sums[i] = acc[i];
}

template <typename Source, typename Ahead = NoReadAhead>
void products(const std::uint32_t* const* x, std::size_t rows, const Source& w, std::size_t entries, std::size_t terms,
              std::uint64_t q, std::uint64_t* const* out, Ahead ahead = {}) {
  const avx2::Reduce64 reduce(q);
  const std::size_t run = blocked_products_run(q);
  for (std::size_t e = 0; e < entries; ++e) {
    for (std::size_t r = 0; r < rows; ++r) {
      __m256i acc[8];
      for (auto& a : acc) a = _mm256_setzero_si256();
      for (std::size_t m0 = 0; m0 < terms; m0 += run) {
        if (m0 > 0)
          for (auto& a : acc) a = reduce(a);
        run_terms(x[r], w, e * terms, m0, std::min(terms, m0 + run), acc, ahead);
      }
      for (int p = 0; p < 2; ++p) {
        std::uint64_t* o = out[(r * entries + e) * 2 + p];
        store(o, reduce(acc[p * 4 + 0]));       // vector 0 even words: slots 0-3
        store(o + 4, reduce(acc[p * 4 + 2]));   // vector 1 even words: slots 4-7
        store(o + 8, reduce(acc[p * 4 + 1]));   // vector 0 odd words: slots 8-11
        store(o + 12, reduce(acc[p * 4 + 3]));  // vector 1 odd words: slots 12-15
      }
    }
  }
}

}  // namespace

void blocked_products_avx2(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                           std::size_t entries, std::size_t terms, std::uint64_t q,
                           std::uint64_t* const* out) noexcept {
  products(x, rows, Words{w}, entries, terms, q, out);
}

void blocked_products_packed_avx2(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                                  std::size_t entries, std::size_t terms, std::uint64_t q,
                                  std::uint64_t* const* out, const std::uint8_t* next,
                                  std::size_t distance) noexcept {
  products(x, rows, Packed27{packed}, entries, terms, q, out,
           ReadAhead(packed, entries * terms * kPackedUnitBytes, next, distance));
}

void unpack_words27_avx2(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  const Packed27 unit{packed};
  for (std::size_t u = 0; u < units; ++u)
    for (int v = 0; v < 2; ++v) {
      __m256i even, odd;
      unit(u, v, even, odd);
      store(words + u * kSlotBlock + v * 8, _mm256_or_si256(even, _mm256_slli_epi64(odd, 32)));
    }
}

void gather_blocked_narrow_avx2(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                std::uint32_t* dst, std::size_t dst_stride) noexcept {
  // The source block's 16 words narrowed into two vectors (slots 0-7, 8-15);
  // each destination half takes one permutation of each and a blend on the
  // index's bit 3.
  const __m256i narrow = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // even words (the low halves) first
  const __m256i low3 = _mm256_set1_epi32(7), bit3 = _mm256_set1_epi32(8);
  for (std::size_t b = 0; b < n / kSlotBlock; ++b) {
    const std::uint64_t* block = src + (perm[b * kSlotBlock] & ~std::uint32_t{kSlotBlock - 1});
    __m256i half[2];
    for (int h = 0; h < 2; ++h) {
      const __m256i a = _mm256_permutevar8x32_epi32(load(reinterpret_cast<const std::uint32_t*>(block + 8 * h)), narrow);
      const __m256i c = _mm256_permutevar8x32_epi32(load(reinterpret_cast<const std::uint32_t*>(block + 8 * h + 4)), narrow);
      half[h] = _mm256_permute2x128_si256(a, c, 0x20);  // slots 8h .. 8h + 7
    }
    for (int v = 0; v < 2; ++v) {
      // Destination words 8v .. 8v + 7 are slots 4v, 4v + 8, 4v + 1, 4v + 9, ...
      const std::uint32_t* pb = perm + b * kSlotBlock;
      const __m256i p = _mm256_setr_epi32(pb[4 * v], pb[4 * v + 8], pb[4 * v + 1], pb[4 * v + 9], pb[4 * v + 2],
                                          pb[4 * v + 10], pb[4 * v + 3], pb[4 * v + 11]);
      const __m256i index = _mm256_and_si256(p, low3);
      const __m256i from_high = _mm256_cmpeq_epi32(_mm256_and_si256(p, bit3), bit3);
      const __m256i out = _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(half[0], index),
                                             _mm256_permutevar8x32_epi32(half[1], index), from_high);
      store(dst + b * dst_stride + 8 * v, out);
    }
  }
}

}  // namespace fhellm::math
