// AVX-512 VNNI kernel of int_matmul: vpdpbusd multiplies 64 uint8 x int8
// pairs and adds each group of 4 products into an int32 lane, exactly (no
// saturation), so it computes the same integers as the scalar reference.
// GCC 12 flags its own _mm512_reduce_add_epi32 as maybe-uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace fhellm::quant {

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void int_matmul_range_avx512_vnni(
    const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n, std::size_t n_begin,
    std::size_t n_end, std::int64_t* acc) {
  const std::size_t full = k / 64 * 64;
  const __mmask64 tail = k == full ? 0 : (~0ull >> (64 - (k - full)));
  std::size_t i = n_begin;
  // Four output channels at a time share each load of the activation row.
  for (; i + 4 <= n_end; i += 4) {
    const std::int8_t* w0 = w + i * k;
    const std::int8_t* w1 = w0 + k;
    const std::int8_t* w2 = w1 + k;
    const std::int8_t* w3 = w2 + k;
    for (std::size_t t = 0; t < rows; ++t) {
      const std::uint8_t* xr = x + t * k;
      __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
      for (std::size_t j = 0; j < full; j += 64) {
        const __m512i xv = _mm512_loadu_si512(xr + j);
        a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_loadu_si512(w0 + j));
        a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_loadu_si512(w1 + j));
        a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_loadu_si512(w2 + j));
        a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_loadu_si512(w3 + j));
      }
      if (tail != 0) {
        const __m512i xv = _mm512_maskz_loadu_epi8(tail, xr + full);
        a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_maskz_loadu_epi8(tail, w0 + full));
        a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_maskz_loadu_epi8(tail, w1 + full));
        a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_maskz_loadu_epi8(tail, w2 + full));
        a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_maskz_loadu_epi8(tail, w3 + full));
      }
      std::int64_t* out = acc + t * n + i;
      out[0] = _mm512_reduce_add_epi32(a0);
      out[1] = _mm512_reduce_add_epi32(a1);
      out[2] = _mm512_reduce_add_epi32(a2);
      out[3] = _mm512_reduce_add_epi32(a3);
    }
  }
  for (; i < n_end; ++i) {
    const std::int8_t* wr = w + i * k;
    for (std::size_t t = 0; t < rows; ++t) {
      const std::uint8_t* xr = x + t * k;
      __m512i a = _mm512_setzero_si512();
      for (std::size_t j = 0; j < full; j += 64) a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512(xr + j), _mm512_loadu_si512(wr + j));
      if (tail != 0) {
        a = _mm512_dpbusd_epi32(a, _mm512_maskz_loadu_epi8(tail, xr + full), _mm512_maskz_loadu_epi8(tail, wr + full));
      }
      acc[t * n + i] = _mm512_reduce_add_epi32(a);
    }
  }
}

}  // namespace fhellm::quant
