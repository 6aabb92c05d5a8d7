// AVX-512 blocked products: 1 row x 4 entries per pass, 16 accumulators of
// eight 64-bit sums (the even and odd 32-bit words of each vector, i.e. the
// block's first and second halves, see blocked_slot_word).
#include <immintrin.h>

// GCC 12 reports _mm512_undefined_epi32's deliberate self-initialization
// (the masked intrinsics' unused source) once Packed27 is inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>

#include "math/blocked_product.h"
#include "math/blocked_product_simd.h"

namespace fhellm::math {
namespace {

inline __m512i load(const void* p) { return _mm512_loadu_si512(p); }
inline __m512i set64(std::uint64_t v) { return _mm512_set1_epi64(static_cast<long long>(v)); }
inline __m512i reduce_once(__m512i v, __m512i bound) {
  const __mmask8 ge = _mm512_cmpge_epu64_mask(v, bound);
  return _mm512_mask_sub_epi64(v, ge, v, bound);
}

// x mod q for any 64-bit x, q < 2^30 (Barrett on each 32-bit half).
struct Reduce64 {
  __m512i q, barrett, r32, r32_shoup, low;
  explicit Reduce64(std::uint64_t m)
      : q(set64(m)),
        barrett(set64((std::uint64_t{1} << 32) / m)),
        r32(set64((std::uint64_t{1} << 32) % m)),
        r32_shoup(set64((((std::uint64_t{1} << 32) % m) << 32) / m)),
        low(set64(0xffffffffu)) {}
  __m512i barrett32(__m512i x) const {  // x < 2^32 -> [0, 2q)
    const __m512i est = _mm512_srli_epi64(_mm512_mul_epu32(x, barrett), 32);
    return _mm512_sub_epi64(x, _mm512_mul_epu32(est, q));
  }
  __m512i operator()(__m512i x) const {
    const __m512i h = reduce_once(barrett32(_mm512_srli_epi64(x, 32)), q);
    const __m512i est = _mm512_srli_epi64(_mm512_mul_epu32(h, r32_shoup), 32);
    const __m512i hr = _mm512_sub_epi64(_mm512_mul_epu32(h, r32), _mm512_mul_epu32(est, q));  // [0, 2q)
    const __m512i lo = barrett32(_mm512_and_si512(x, low));                                   // [0, 2q)
    return reduce_once(reduce_once(_mm512_add_epi64(hr, lo), _mm512_add_epi64(q, q)), q);
  }
};

// Where a unit's 16 weight words come from: unpacked words (calls of many
// rows, which reuse a slice), or the packed units themselves, unpacked in
// registers (one row: blocked_products_packed).
struct Words {
  const std::uint32_t* w;
  __m512i operator()(std::size_t unit) const { return load(w + unit * kSlotBlock); }
};

struct Packed27 {
  // Words 2j and 2j + 1 lie in the 8 bytes from floor(54 j / 8), at bit
  // offsets o_j = 54 j mod 8 and o_j + 27: one byte permutation puts those
  // bytes in qword j, one multishift (both VBMI) takes each word's 32 bits
  // from there, one mask per unit.
  const std::uint8_t* packed;
  __m512i index, fields, low27;
  explicit Packed27(const std::uint8_t* p) : packed(p), low27(_mm512_set1_epi32((1 << kPackedWordBits) - 1)) {
    alignas(64) std::uint8_t idx[64], bits[64];
    for (int j = 0; j < 8; ++j) {
      const int first = 2 * kPackedWordBits * j;
      for (int b = 0; b < 8; ++b) idx[8 * j + b] = static_cast<std::uint8_t>(first / 8 + b);
      for (int b = 0; b < 4; ++b) {
        bits[8 * j + b] = static_cast<std::uint8_t>(first % 8 + 8 * b);
        bits[8 * j + 4 + b] = static_cast<std::uint8_t>(first % 8 + kPackedWordBits + 8 * b);
      }
    }
    index = _mm512_load_si512(idx);
    fields = _mm512_load_si512(bits);
  }
  __m512i operator()(std::size_t unit) const {
    const __m512i v = _mm512_loadu_si512(packed + unit * kPackedUnitBytes);  // 10 bytes past the unit: kPackedSlackBytes
    return _mm512_and_si512(_mm512_multishift_epi64_epi8(fields, _mm512_permutexvar_epi8(index, v)), low27);
  }
};

// Sums of rows r0..r0+RR-1 and entries e0..e0+EE-1 over one run of terms.
// acc[(i * EE + j) * 4 + p * 2 + h]: row i, entry j, part p, half h.
// The sums live in a local array for the loop: __m512i may alias anything,
// so through the caller's pointer every store would have to reach memory.
template <int RR, int EE, typename Source, typename Ahead>
void run_terms(const std::uint32_t* const* x, std::size_t r0, const Source& w, std::size_t e0,
               std::size_t terms, std::size_t m0, std::size_t m1, __m512i* sums, Ahead& ahead) {
  __m512i acc[RR * EE * 4];
  #pragma GCC unroll 32
  for (int i = 0; i < RR * EE * 4; ++i) acc[i] = sums[i];
  const std::uint32_t* xr[RR];
  #pragma GCC unroll 32
  for (int i = 0; i < RR; ++i) xr[i] = x[r0 + i];
  for (std::size_t m = m0; m < m1; ++m) {
    #pragma GCC unroll 32
    for (int j = 0; j < EE; ++j) ahead.line();  // EE units of 54 bytes read per term
    __m512i wv[EE], wo[EE];
    #pragma GCC unroll 32
    for (int j = 0; j < EE; ++j) {
      wv[j] = w((e0 + j) * terms + m);
      wo[j] = _mm512_srli_epi64(wv[j], 32);
    }
    #pragma GCC unroll 32
    for (int i = 0; i < RR; ++i) {
      #pragma GCC unroll 32
      for (int p = 0; p < 2; ++p) {
        const __m512i xv = load(xr[i] + (m * 2 + p) * kSlotBlock), xo = _mm512_srli_epi64(xv, 32);
        #pragma GCC unroll 32
        for (int j = 0; j < EE; ++j) {
          __m512i* a = acc + (i * EE + j) * 4 + p * 2;
          a[0] = _mm512_add_epi64(a[0], _mm512_mul_epu32(xv, wv[j]));
          a[1] = _mm512_add_epi64(a[1], _mm512_mul_epu32(xo, wo[j]));
        }
      }
    }
  }
  #pragma GCC unroll 32
  for (int i = 0; i < RR * EE * 4; ++i) sums[i] = acc[i];
}

template <int RR, int EE, typename Source, typename Ahead>
void tile(const std::uint32_t* const* x, std::size_t r0, const Source& w, std::size_t e0, std::size_t entries,
          std::size_t terms, std::size_t run, const Reduce64& reduce, std::uint64_t* const* out, Ahead& ahead) {
  __m512i acc[RR * EE * 4];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (std::size_t m0 = 0; m0 < terms; m0 += run) {
    if (m0 > 0)
      for (auto& a : acc) a = reduce(a);  // carry a value < q into the next run
    run_terms<RR, EE>(x, r0, w, e0, terms, m0, std::min(terms, m0 + run), acc, ahead);
  }
  #pragma GCC unroll 32
  for (int i = 0; i < RR; ++i)
    #pragma GCC unroll 32
    for (int j = 0; j < EE; ++j)
      #pragma GCC unroll 32
      for (int p = 0; p < 2; ++p) {
        std::uint64_t* o = out[((r0 + i) * entries + e0 + j) * 2 + p];
        _mm512_storeu_si512(o, reduce(acc[(i * EE + j) * 4 + p * 2]));
        _mm512_storeu_si512(o + kSlotBlock / 2, reduce(acc[(i * EE + j) * 4 + p * 2 + 1]));
      }
}

template <typename Source, typename Ahead = NoReadAhead>
void products(const std::uint32_t* const* x, std::size_t rows, const Source& w, std::size_t entries, std::size_t terms,
              std::uint64_t q, std::uint64_t* const* out, Ahead ahead = {}) {
  const Reduce64 reduce(q);
  const std::size_t run = blocked_products_run(q);
  // Entries outer, rows inner (the AVX2 kernel's order): a tile's weights
  // (4 entries x terms units, 8 KiB at 32 terms) stay in L1 while every row
  // of the block reads them, where row-outer re-read the whole slice from L2
  // for each row (a 120-token prompt: 148.7-155.2 ms per row against
  // 154.3-164.3, four pairs). One row: the same order as before.
  std::size_t e = 0;
  for (; e + 4 <= entries; e += 4)
    for (std::size_t r = 0; r < rows; ++r) tile<1, 4>(x, r, w, e, entries, terms, run, reduce, out, ahead);
  for (; e + 2 <= entries; e += 2)
    for (std::size_t r = 0; r < rows; ++r) tile<1, 2>(x, r, w, e, entries, terms, run, reduce, out, ahead);
  if (e < entries)
    for (std::size_t r = 0; r < rows; ++r) tile<1, 1>(x, r, w, e, entries, terms, run, reduce, out, ahead);
}

}  // namespace

void blocked_products_avx512(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                             std::size_t entries, std::size_t terms, std::uint64_t q,
                             std::uint64_t* const* out) noexcept {
  products(x, rows, Words{w}, entries, terms, q, out);
}

void blocked_products_packed_avx512(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                                    std::size_t entries, std::size_t terms, std::uint64_t q,
                                    std::uint64_t* const* out, const std::uint8_t* next,
                                    std::size_t distance) noexcept {
  products(x, rows, Packed27(packed), entries, terms, q, out,
           ReadAhead(packed, entries * terms * kPackedUnitBytes, next, distance));
}

void unpack_words27_avx512(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  const Packed27 unit(packed);
  for (std::size_t u = 0; u < units; ++u) _mm512_storeu_si512(words + u * kSlotBlock, unit(u));
}

void gather_blocked_narrow_avx512(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                  std::uint32_t* dst, std::size_t dst_stride) noexcept {
  // Word w of a destination block is slot blocked_slot_word^-1(w): (0, 8, 1,
  // 9, ...). Per block: the source block's 16 words narrowed into one vector,
  // one permutation, one full-line store.
  const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const __m512i low4 = _mm512_set1_epi32(kSlotBlock - 1);
  for (std::size_t b = 0; b < n / kSlotBlock; ++b) {
    const __m512i p = _mm512_loadu_si512(perm + b * kSlotBlock);
    const std::uint64_t* block = src + (perm[b * kSlotBlock] & ~std::uint32_t{kSlotBlock - 1});
    const __m256i lo = _mm512_cvtepi64_epi32(_mm512_loadu_si512(block));
    const __m256i hi = _mm512_cvtepi64_epi32(_mm512_loadu_si512(block + 8));
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    const __m512i index = _mm512_and_si512(_mm512_permutexvar_epi32(order, p), low4);
    _mm512_storeu_si512(dst + b * dst_stride, _mm512_permutexvar_epi32(index, v));
  }
}

}  // namespace fhellm::math
