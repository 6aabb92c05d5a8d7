// AVX2 versions of the poly_arith kernels that the server runs per product
// and per packing-tree step (see poly_arith_simd.h for the contracts).
#include "poly_arith_simd.h"
#include "simd_avx2.h"

namespace fhellm::math {

using namespace avx2;

void add_mod_lanes_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                        std::uint64_t m) noexcept {
  const __m256i mv = set64(m);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store(out + i, reduce_once64(_mm256_add_epi64(load(a + i), load(b + i)), mv));
  for (; i < n; ++i) {
    const std::uint64_t s = a[i] + b[i];
    out[i] = s >= m ? s - m : s;
  }
}

void sub_mod_lanes_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                        std::uint64_t m) noexcept {
  const __m256i mv = set64(m);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    store(out + i, reduce_once64(_mm256_sub_epi64(_mm256_add_epi64(load(a + i), mv), load(b + i)), mv));
  }
  for (; i < n; ++i) {
    const std::uint64_t d = a[i] + m - b[i];
    out[i] = d >= m ? d - m : d;
  }
}

void multiply_accumulate_u64_u32_avx2(const std::uint64_t* a, const std::uint32_t* b, std::uint64_t* acc,
                                      std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    store(acc + i, _mm256_add_epi64(load(acc + i), _mm256_mul_epu32(load(a + i), load_u32x4(b + i))));
  }
  for (; i < n; ++i) acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * b[i];
}

void multiply_accumulate_pair_u64_u32_avx2(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* b,
                                           std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i w = load_u32x4(b + i);
    store(acc0 + i, _mm256_add_epi64(load(acc0 + i), _mm256_mul_epu32(load(a0 + i), w)));
    store(acc1 + i, _mm256_add_epi64(load(acc1 + i), _mm256_mul_epu32(load(a1 + i), w)));
  }
  for (; i < n; ++i) {
    const std::uint64_t w = b[i];
    acc0[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a0[i])) * w;
    acc1[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a1[i])) * w;
  }
}

void multiply_accumulate_u64_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc,
                                  std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store(acc + i, _mm256_add_epi64(load(acc + i), _mm256_mul_epu32(load(a + i), load(b + i))));
  for (; i < n; ++i) {
    acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * static_cast<std::uint32_t>(b[i]);
  }
}

void reduce_u64_small_avx2(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, std::uint64_t q) noexcept {
  const Reduce64 reduce(q);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store(out + i, reduce(load(acc + i)));
  for (; i < n; ++i) out[i] = acc[i] % q;
}

void multiply_accumulate_pair2_u64_u32_avx2(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* w,
                                            const std::uint64_t* b0, const std::uint64_t* b1, const std::uint32_t* v,
                                            std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i x = load_u32x4(w + i), y = load_u32x4(v + i);
    __m256i s0 = _mm256_add_epi64(load(acc0 + i), _mm256_mul_epu32(load(a0 + i), x));
    __m256i s1 = _mm256_add_epi64(load(acc1 + i), _mm256_mul_epu32(load(a1 + i), x));
    s0 = _mm256_add_epi64(s0, _mm256_mul_epu32(load(b0 + i), y));
    s1 = _mm256_add_epi64(s1, _mm256_mul_epu32(load(b1 + i), y));
    store(acc0 + i, s0);
    store(acc1 + i, s1);
  }
  for (; i < n; ++i) {
    acc0[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a0[i])) * w[i] +
               static_cast<std::uint64_t>(static_cast<std::uint32_t>(b0[i])) * v[i];
    acc1[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a1[i])) * w[i] +
               static_cast<std::uint64_t>(static_cast<std::uint32_t>(b1[i])) * v[i];
  }
}

void monomial_butterfly_ntt_avx2(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                                 const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n, std::uint64_t q) noexcept {
  const __m256i qv = set64(q);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    // Shoup: o m - floor(o m_shoup / 2^32) q is in [0, 2q) for o < 2^32.
    const __m256i ov = load(o + i);
    const __m256i est = _mm256_srli_epi64(_mm256_mul_epu32(ov, load(m_shoup + i)), 32);
    const __m256i t = reduce_once64(_mm256_sub_epi64(_mm256_mul_epu32(ov, load(m + i)), _mm256_mul_epu32(est, qv)), qv);
    const __m256i ev = load(e + i);
    store(e + i, reduce_once64(_mm256_add_epi64(ev, t), qv));
    store(d + i, reduce_once64(_mm256_sub_epi64(_mm256_add_epi64(ev, qv), t), qv));
  }
  monomial_butterfly_ntt_tail(e, o, m, m_shoup, d, i, n, q);
}

}  // namespace fhellm::math
