// Inline AVX2 helpers shared by the *_avx2.cpp kernels (include only from
// files compiled with the AVX2 flags).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fhellm::math::avx2 {

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
inline __m256i set64(std::uint64_t v) { return _mm256_set1_epi64x(static_cast<long long>(v)); }

// Four uint32 (one 128-bit load) zero-extended to 64-bit lanes.
inline __m256i load_u32x4(const std::uint32_t* p) {
  return _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// 64-bit lanes: v - bound where v >= bound (v, bound < 2^63).
inline __m256i reduce_once64(__m256i v, __m256i bound) {
  const __m256i lt = _mm256_cmpgt_epi64(bound, v);
  return _mm256_sub_epi64(v, _mm256_andnot_si256(lt, bound));
}

// x mod q for 64-bit lanes holding any x < 2^64, q < 2^30 (Reduce64 below).
struct Reduce64 {
  __m256i q, barrett, r32, r32_shoup;
  explicit Reduce64(std::uint64_t modulus)
      : q(set64(modulus)),
        barrett(set64((std::uint64_t{1} << 32) / modulus)),
        r32(set64((std::uint64_t{1} << 32) % modulus)),
        r32_shoup(set64((((std::uint64_t{1} << 32) % modulus) << 32) / modulus)) {}
  // x < 2^32 in the low half of each lane -> x mod q in [0, 2q).
  __m256i barrett32(__m256i x) const {
    const __m256i est = _mm256_srli_epi64(_mm256_mul_epu32(x, barrett), 32);
    return _mm256_sub_epi64(x, _mm256_mul_epu32(est, q));
  }
  // x = hi 2^32 + lo -> (hi mod q) (2^32 mod q) + lo mod q, reduced to [0, q).
  __m256i operator()(__m256i x) const {
    const __m256i h = reduce_once64(barrett32(_mm256_srli_epi64(x, 32)), q);
    const __m256i est = _mm256_srli_epi64(_mm256_mul_epu32(h, r32_shoup), 32);
    const __m256i hr = _mm256_sub_epi64(_mm256_mul_epu32(h, r32), _mm256_mul_epu32(est, q));  // [0, 2q)
    const __m256i lo = barrett32(_mm256_and_si256(x, set64(0xffffffffu)));                   // [0, 2q)
    const __m256i two_q = _mm256_add_epi64(q, q);
    return reduce_once64(reduce_once64(_mm256_add_epi64(hr, lo), two_q), q);
  }
};

}  // namespace fhellm::math::avx2
