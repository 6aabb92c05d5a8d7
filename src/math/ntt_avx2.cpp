// AVX2 NTT kernels: four 64-bit lanes; the 64x64-bit products Shoup's method
// needs are built from 32x32-bit vpmuludq. Layers whose butterfly span is at
// least 4 run vectorized; the last two (spans 2 and 1) run the scalar loop.
// Values are below 4q < 2^63, so signed 64-bit compares are exact.
#include <immintrin.h>

#include "math/ntt.h"

namespace fhellm::math {
namespace {

inline __m256i mul_lo64(__m256i a, __m256i b) {
  const __m256i lo = _mm256_mul_epu32(a, b);
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b), _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
  return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

inline __m256i mul_hi64(__m256i a, __m256i b) {
  const __m256i mask32 = _mm256_set1_epi64x(0xffffffff);
  const __m256i a_hi = _mm256_srli_epi64(a, 32);
  const __m256i b_hi = _mm256_srli_epi64(b, 32);
  const __m256i ll = _mm256_mul_epu32(a, b);
  const __m256i lh = _mm256_mul_epu32(a, b_hi);
  const __m256i hl = _mm256_mul_epu32(a_hi, b);
  const __m256i hh = _mm256_mul_epu32(a_hi, b_hi);
  const __m256i mid = _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(ll, 32), _mm256_and_si256(lh, mask32)),
                                       _mm256_and_si256(hl, mask32));
  return _mm256_add_epi64(_mm256_add_epi64(hh, _mm256_srli_epi64(lh, 32)),
                          _mm256_add_epi64(_mm256_srli_epi64(hl, 32), _mm256_srli_epi64(mid, 32)));
}

// x * w mod q in [0, 2q).
inline __m256i mul_shoup_lazy(__m256i x, __m256i w, __m256i w_shoup, __m256i q) {
  const __m256i q_est = mul_hi64(x, w_shoup);
  return _mm256_sub_epi64(mul_lo64(x, w), mul_lo64(q_est, q));
}

// v mod bound for v in [0, 2 bound): subtract bound where v >= bound.
inline __m256i reduce_once(__m256i v, __m256i bound) {
  const __m256i lt = _mm256_cmpgt_epi64(bound, v);
  return _mm256_sub_epi64(v, _mm256_andnot_si256(lt, bound));
}

}  // namespace

void ntt_forward_avx2(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  if (n < 8) return ntt_forward_reference(a, tables);
  const ShoupConstant* roots = tables.forward_roots().data();
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q));
  const __m256i v2q = _mm256_set1_epi64x(static_cast<long long>(two_q));
  std::size_t m = 1, t = n >> 1;
  for (; t >= 4; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const __m256i w = _mm256_set1_epi64x(static_cast<long long>(roots[m + i].value));
      const __m256i ws = _mm256_set1_epi64x(static_cast<long long>(roots[m + i].shoup));
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 4) {
        __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j));
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j));
        u = reduce_once(u, v2q);
        const __m256i v = mul_shoup_lazy(yv, w, ws, vq);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + j), _mm256_add_epi64(u, v));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + j), _mm256_sub_epi64(_mm256_add_epi64(u, v2q), v));
      }
    }
  }
  for (; m < n; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupConstant w = roots[m + i];
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        std::uint64_t u = x[j];
        u = u >= two_q ? u - two_q : u;
        const std::uint64_t v = math::mul_shoup_lazy(y[j], w, q);
        x[j] = u + v;
        y[j] = u + two_q - v;
      }
    }
  }
  for (std::size_t i = 0; i < n; i += 4) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    v = reduce_once(reduce_once(v, v2q), vq);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + i), v);
  }
}

void ntt_inverse_avx2(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  if (n < 8) return ntt_inverse_reference(a, tables);
  const ShoupConstant* roots = tables.inverse_roots().data();
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q));
  const __m256i v2q = _mm256_set1_epi64x(static_cast<long long>(two_q));
  std::size_t m = n, t = 1;
  for (; m > 1 && t < 4; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    for (std::size_t i = 0; i < h; ++i) {
      const ShoupConstant w = roots[h + i];
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        const std::uint64_t u = x[j], v = y[j];
        const std::uint64_t s = u + v;
        x[j] = s >= two_q ? s - two_q : s;
        y[j] = math::mul_shoup_lazy(u + two_q - v, w, q);
      }
    }
  }
  for (; m > 1; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    for (std::size_t i = 0; i < h; ++i) {
      const __m256i w = _mm256_set1_epi64x(static_cast<long long>(roots[h + i].value));
      const __m256i ws = _mm256_set1_epi64x(static_cast<long long>(roots[h + i].shoup));
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 4) {
        const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j));
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + j), reduce_once(_mm256_add_epi64(u, v), v2q));
        const __m256i d = _mm256_sub_epi64(_mm256_add_epi64(u, v2q), v);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + j), mul_shoup_lazy(d, w, ws, vq));
      }
    }
  }
  const __m256i w = _mm256_set1_epi64x(static_cast<long long>(tables.inv_degree().value));
  const __m256i ws = _mm256_set1_epi64x(static_cast<long long>(tables.inv_degree().shoup));
  for (std::size_t i = 0; i < n; i += 4) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + i), reduce_once(mul_shoup_lazy(v, w, ws, vq), vq));
  }
}

}  // namespace fhellm::math
