// AVX2 + FMA kernel of the float matrix-vector product (model/gemv.h).
#include <immintrin.h>

#include <cstddef>

namespace fhellm::model {

namespace {
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

void gemv_rows_avx2(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end, float* y) {
  const std::size_t full = k / 8 * 8;
  std::size_t i = i_begin;
  // Four rows at a time share each load of x.
  for (; i + 4 <= i_end; i += 4) {
    const float* w0 = w + i * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t j = 0; j < full; j += 8) {
      const __m256 xv = _mm256_loadu_ps(x + j);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), xv, a3);
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (std::size_t j = full; j < k; ++j) {
      s0 += w0[j] * x[j];
      s1 += w1[j] * x[j];
      s2 += w2[j] * x[j];
      s3 += w3[j] * x[j];
    }
    y[i] = s0;
    y[i + 1] = s1;
    y[i + 2] = s2;
    y[i + 3] = s3;
  }
  for (; i < i_end; ++i) {
    const float* wr = w + i * k;
    __m256 a = _mm256_setzero_ps();
    for (std::size_t j = 0; j < full; j += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(wr + j), _mm256_loadu_ps(x + j), a);
    float s = hsum(a);
    for (std::size_t j = full; j < k; ++j) s += wr[j] * x[j];
    y[i] = s;
  }
}

}  // namespace fhellm::model
