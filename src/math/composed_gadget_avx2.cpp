// AVX2 builds of the composed-gadget kernels (composed_gadget.h): four
// coefficients per vector on 64-bit lanes, the tails by the reference loops.
// AVX2 has no unsigned or 64-bit arithmetic-shift forms: every value here is
// below 2^63 (signed compares hold), and the top digit's arithmetic shift is
// a logical one of y + 2^62 (|y| < 2^62) less 2^62 >> shift.
#include "math/composed_gadget_simd.h"
#include "math/simd_avx2.h"

namespace fhellm::math {

using namespace avx2;

namespace {

inline __m256i load_u32x4_lanes(const std::uint32_t* p) noexcept { return load_u32x4(p); }
inline void store_u32x4(std::uint32_t* p, __m256i v) noexcept {
  const __m256i low_words = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, low_words)));
}
inline __m256i shoup(__m256i x, __m256i w, __m256i w_shoup, __m256i q) noexcept {
  const __m256i h = _mm256_srli_epi64(_mm256_mul_epu32(x, w_shoup), 32);
  return _mm256_sub_epi64(_mm256_mul_epu32(x, w), _mm256_mul_epu32(h, q));
}

}  // namespace

void composed_digits_lift_u32_avx2(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                   std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept {
  constexpr std::uint64_t kBias = std::uint64_t{1} << 62;
  const __m256i q0 = set64(s.q0), q1 = set64(s.q1), lift = set64(s.lift), inv = set64(s.inv),
                inv_shoup = set64(s.inv_shoup), big_q = set64(s.big_q), half_q = set64(s.half_q),
                offset = set64(static_cast<std::uint64_t>(s.offset)), mask = set64(s.mask),
                half = set64(static_cast<std::uint64_t>(s.half)), zero = _mm256_setzero_si256(), bias = set64(kBias);
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256i a = load(r0 + j), b = load(r1 + j);
    const __m256i h = reduce_once64(shoup(_mm256_sub_epi64(_mm256_add_epi64(b, lift), a), inv, inv_shoup, q1), q1);
    __m256i x = _mm256_add_epi64(a, _mm256_mul_epu32(h, q0));  // CRT: [0, Q)
    x = _mm256_sub_epi64(x, _mm256_and_si256(_mm256_cmpgt_epi64(x, half_q), big_q));
    const __m256i y = _mm256_add_epi64(x, offset);
    for (std::size_t t = 0; t < count; ++t) {
      const int sh = s.w * static_cast<int>(t);
      const __m128i shift = _mm_cvtsi32_si128(sh);
      const __m256i d =
          t + 1 == s.levels
              ? _mm256_sub_epi64(_mm256_srl_epi64(_mm256_add_epi64(y, bias), shift), set64(kBias >> sh))
              : _mm256_sub_epi64(_mm256_and_si256(_mm256_srl_epi64(y, shift), mask), half);
      const __m256i neg = _mm256_cmpgt_epi64(zero, d);
      store_u32x4(out[2 * t] + j, _mm256_add_epi64(d, _mm256_and_si256(neg, q0)));
      store_u32x4(out[2 * t + 1] + j, _mm256_add_epi64(d, _mm256_and_si256(neg, q1)));
    }
  }
  composed_digits_lift_u32_tail(r0, r1, s, count, out, j, n);
}

void composed_top_digit_ntt_u32_avx2(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                     std::uint32_t base, std::uint32_t base_shoup, std::uint32_t inv,
                                     std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                     std::uint32_t q) noexcept {
  const __m256i qv = set64(q), three_q = set64(3 * std::uint64_t{q}), bv = set64(base), bs = set64(base_shoup),
                iv = set64(inv), is = set64(inv_shoup);
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256i p = shoup(load_u32x4_lanes(d1 + j), bv, bs, qv);  // 2^w d1 in [0, 2q)
    const __m256i x =
        _mm256_sub_epi64(_mm256_sub_epi64(_mm256_add_epi64(load(c_ntt + j), three_q), load_u32x4_lanes(d0 + j)), p);
    store_u32x4(out + j, reduce_once64(shoup(x, iv, is, qv), qv));
  }
  composed_top_digit_ntt_u32_reference(c_ntt + j, d0 + j, d1 + j, base, inv, out + j, n - j, q);
}

}  // namespace fhellm::math
