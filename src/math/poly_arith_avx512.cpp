// AVX-512 builds of simple element-wise kernels: the same loops as the
// portable versions, compiled for 8 lanes (vpmuludq, masked adds).
#include <immintrin.h>

#include "poly_arith_simd.h"

namespace fhellm::math {

// (a + b) mod m as min(s, s - m): when s < m, s - m wraps above 2^63 > s.
void add_mod_lanes_avx512(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                    std::uint64_t m) noexcept {
  const __m512i vm = _mm512_set1_epi64(static_cast<long long>(m));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i s = _mm512_add_epi64(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    _mm512_storeu_si512(out + i, _mm512_min_epu64(s, _mm512_sub_epi64(s, vm)));
  }
  for (; i < n; ++i) {
    const std::uint64_t s = a[i] + b[i];
    out[i] = s >= m ? s - m : s;
  }
}

// (a - b) mod m as min(d, d + m): when a < b, d wraps high and d + m is the result.
void sub_mod_lanes_avx512(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                    std::uint64_t m) noexcept {
  const __m512i vm = _mm512_set1_epi64(static_cast<long long>(m));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i d = _mm512_sub_epi64(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    _mm512_storeu_si512(out + i, _mm512_min_epu64(d, _mm512_add_epi64(d, vm)));
  }
  for (; i < n; ++i) {
    const std::uint64_t d = a[i] + m - b[i];
    out[i] = d >= m ? d - m : d;
  }
}

void lift_signed_avx512(const std::int64_t* __restrict v, std::uint64_t q, std::uint64_t* __restrict out,
                        std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t x = static_cast<std::uint64_t>(v[j]);
    out[j] = x + (v[j] < 0 ? q : 0);  // wraps to q + v for negative v
  }
}

// 32x32 -> 64 multiplies use vpmuludq (it reads the low half of each 64-bit
// lane, so operands need no masking); 32-bit plaintext words are widened on
// load (vpmovzxdq). The maskz forms with a full mask are the same
// instructions; the unmasked intrinsics trip GCC 12's -Wmaybe-uninitialized
// (their undefined pass-through operand).
namespace {

inline __m512i widen_u32x8(const std::uint32_t* p) noexcept {
  return _mm512_maskz_cvtepu32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512i mul_low32(__m512i x, __m512i y) noexcept { return _mm512_maskz_mul_epu32(0xFF, x, y); }

}  // namespace

void multiply_accumulate_u64_avx512(const std::uint64_t* __restrict a, const std::uint64_t* __restrict b,
                                    std::uint64_t* __restrict acc, std::size_t n) noexcept {
  // Written out: GCC 12 at -O2 leaves the plain loop scalar (one imul per slot).
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i p = mul_low32(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    _mm512_storeu_si512(acc + i, _mm512_add_epi64(_mm512_loadu_si512(acc + i), p));
  }
  for (; i < n; ++i) {
    acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * static_cast<std::uint32_t>(b[i]);
  }
}

void multiply_accumulate_u64_u32_avx512(const std::uint64_t* __restrict a, const std::uint32_t* __restrict b,
                                        std::uint64_t* __restrict acc, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i p = mul_low32(_mm512_loadu_si512(a + i), widen_u32x8(b + i));
    _mm512_storeu_si512(acc + i, _mm512_add_epi64(_mm512_loadu_si512(acc + i), p));
  }
  for (; i < n; ++i) acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * b[i];
}

void multiply_accumulate_pair_u64_u32_avx512(const std::uint64_t* __restrict a0, const std::uint64_t* __restrict a1,
                                             const std::uint32_t* __restrict b, std::uint64_t* __restrict acc0,
                                             std::uint64_t* __restrict acc1, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i y = widen_u32x8(b + i);
    const __m512i p0 = mul_low32(_mm512_loadu_si512(a0 + i), y);
    const __m512i p1 = mul_low32(_mm512_loadu_si512(a1 + i), y);
    _mm512_storeu_si512(acc0 + i, _mm512_add_epi64(_mm512_loadu_si512(acc0 + i), p0));
    _mm512_storeu_si512(acc1 + i, _mm512_add_epi64(_mm512_loadu_si512(acc1 + i), p1));
  }
  for (; i < n; ++i) {
    const std::uint64_t w = b[i];
    acc0[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a0[i])) * w;
    acc1[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a1[i])) * w;
  }
}

void multiply_accumulate_split52_ifma(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc_lo,
                                      std::uint64_t* acc_hi, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i x = _mm512_loadu_si512(a + i), y = _mm512_loadu_si512(b + i);
    _mm512_storeu_si512(acc_lo + i, _mm512_madd52lo_epu64(_mm512_loadu_si512(acc_lo + i), x, y));
    _mm512_storeu_si512(acc_hi + i, _mm512_madd52hi_epu64(_mm512_loadu_si512(acc_hi + i), x, y));
  }
  constexpr std::uint64_t mask52 = (std::uint64_t{1} << 52) - 1;
  for (; i < n; ++i) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a[i]) * b[i];
    acc_lo[i] += static_cast<std::uint64_t>(p) & mask52;
    acc_hi[i] += static_cast<std::uint64_t>(p >> 52);
  }
}

// The packing tree's butterfly: t = o m by Shoup (in [0, 2q) for o < 2^32),
// then e + t and e - t, each brought into [0, q) by one min (the wrapped
// difference is the larger).
void monomial_butterfly_ntt_avx512(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                                   const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n,
                                   std::uint64_t q) noexcept {
  const __m512i qv = _mm512_set1_epi64(static_cast<long long>(q));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i ov = _mm512_loadu_si512(o + i);
    const __m512i est = _mm512_srli_epi64(mul_low32(ov, _mm512_loadu_si512(m_shoup + i)), 32);
    __m512i t = _mm512_sub_epi64(mul_low32(ov, _mm512_loadu_si512(m + i)), mul_low32(est, qv));
    t = _mm512_min_epu64(t, _mm512_sub_epi64(t, qv));
    const __m512i ev = _mm512_loadu_si512(e + i);
    const __m512i sum = _mm512_add_epi64(ev, t), diff = _mm512_sub_epi64(_mm512_add_epi64(ev, qv), t);
    _mm512_storeu_si512(e + i, _mm512_min_epu64(sum, _mm512_sub_epi64(sum, qv)));
    _mm512_storeu_si512(d + i, _mm512_min_epu64(diff, _mm512_sub_epi64(diff, qv)));
  }
  monomial_butterfly_ntt_tail(e, o, m, m_shoup, d, i, n, q);
}

}  // namespace fhellm::math
