// AVX-512 builds of the composed-gadget kernels (composed_gadget.h): eight
// coefficients per vector on 64-bit lanes, the tails by the reference loops.
#include <immintrin.h>

#include "math/composed_gadget_simd.h"

namespace fhellm::math {
namespace {

inline __m512i set1(std::uint64_t v) noexcept { return _mm512_set1_epi64(static_cast<long long>(v)); }
inline __m512i load_u32x8(const std::uint32_t* p) noexcept {
  return _mm512_maskz_cvtepu32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline void store_u32x8(std::uint32_t* p, __m512i v) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_maskz_cvtepi64_epi32(0xFF, v));
}
// The maskz forms with a full mask are the same instructions; the unmasked
// intrinsics trip GCC 12's -Wmaybe-uninitialized (undefined pass-through).
inline __m512i mul_low32(__m512i x, __m512i y) noexcept { return _mm512_maskz_mul_epu32(0xFF, x, y); }
// Shoup's product x w mod q in [0, 2q) for x < 2^32 (w_shoup = floor(w 2^32 / q)).
inline __m512i shoup(__m512i x, __m512i w, __m512i w_shoup, __m512i q) noexcept {
  const __m512i h = _mm512_maskz_srli_epi64(0xFF, mul_low32(x, w_shoup), 32);
  return _mm512_sub_epi64(mul_low32(x, w), mul_low32(h, q));
}

}  // namespace

void composed_digits_lift_u32_avx512(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                     std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept {
  const __m512i q0 = set1(s.q0), q1 = set1(s.q1), lift = set1(s.lift), inv = set1(s.inv),
                inv_shoup = set1(s.inv_shoup), big_q = set1(s.big_q), half_q = set1(s.half_q),
                offset = set1(static_cast<std::uint64_t>(s.offset)), mask = set1(s.mask),
                half = set1(static_cast<std::uint64_t>(s.half)), zero = _mm512_setzero_si512();
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i a = _mm512_loadu_si512(r0 + j), b = _mm512_loadu_si512(r1 + j);
    __m512i h = shoup(_mm512_sub_epi64(_mm512_add_epi64(b, lift), a), inv, inv_shoup, q1);
    h = _mm512_maskz_min_epu64(0xFF, h, _mm512_sub_epi64(h, q1));
    __m512i x = _mm512_add_epi64(a, mul_low32(h, q0));  // CRT: [0, Q)
    x = _mm512_mask_sub_epi64(x, _mm512_cmpgt_epu64_mask(x, half_q), x, big_q);
    const __m512i y = _mm512_add_epi64(x, offset);
    for (std::size_t t = 0; t < count; ++t) {
      const __m128i shift = _mm_cvtsi32_si128(s.w * static_cast<int>(t));
      const __m512i d = t + 1 == s.levels
                            ? _mm512_maskz_sra_epi64(0xFF, y, shift)
                            : _mm512_sub_epi64(_mm512_and_si512(_mm512_maskz_srl_epi64(0xFF, y, shift), mask), half);
      const __mmask8 neg = _mm512_cmplt_epi64_mask(d, zero);
      store_u32x8(out[2 * t] + j, _mm512_mask_add_epi64(d, neg, d, q0));
      store_u32x8(out[2 * t + 1] + j, _mm512_mask_add_epi64(d, neg, d, q1));
    }
  }
  composed_digits_lift_u32_tail(r0, r1, s, count, out, j, n);
}

void composed_top_digit_ntt_u32_avx512(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                       std::uint32_t base, std::uint32_t base_shoup, std::uint32_t inv,
                                       std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                       std::uint32_t q) noexcept {
  const __m512i qv = set1(q), three_q = set1(3 * std::uint64_t{q}), bv = set1(base), bs = set1(base_shoup),
                iv = set1(inv), is = set1(inv_shoup);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i p = shoup(load_u32x8(d1 + j), bv, bs, qv);  // 2^w d1 in [0, 2q)
    // c + 3q - d0 - p in (0, 4q): below 2^32 for q < 2^30.
    const __m512i x = _mm512_sub_epi64(
        _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(c_ntt + j), three_q), load_u32x8(d0 + j)), p);
    const __m512i r = shoup(x, iv, is, qv);
    store_u32x8(out + j, _mm512_maskz_min_epu64(0xFF, r, _mm512_sub_epi64(r, qv)));
  }
  composed_top_digit_ntt_u32_reference(c_ntt + j, d0 + j, d1 + j, base, inv, out + j, n - j, q);
}

}  // namespace fhellm::math
