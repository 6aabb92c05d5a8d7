// AVX2 NTTs for primes q < 2^30 on 32-bit words, eight lanes per vector (the
// 64-bit AVX2 kernels of ntt_avx2.cpp have four and build every product from
// four 32x32-bit multiplies). Same algorithm as the reference (Harvey's lazy
// butterflies, values below 4q < 2^32 inside) with 32-bit Shoup constants
// floor(w 2^32 / q); the fully reduced outputs equal the reference's.
//
// Layers with a butterfly span t >= 8 use a broadcast twiddle per block. The
// spans 4, 2 and 1 regroup two vectors (16 values) so that one vector holds
// the x halves and the other the y halves, with per-lane twiddles stored in
// that order (NttTables32::lane_*).
#include <immintrin.h>

#include "fhellm/math/keyswitch_kernels.h"
#include "ntt32_simd.h"

namespace fhellm::math {
namespace {

inline __m256i load(const std::uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store(std::uint32_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// High 32 bits of the 32x32-bit products of each lane.
inline __m256i mul_hi32(__m256i a, __m256i b) {
  const __m256i even = _mm256_mul_epu32(a, b);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// y * w mod q in [0, 2q) for y < 2^32 (Shoup, w_shoup = floor(w 2^32 / q)).
inline __m256i mul_shoup_lazy(__m256i y, __m256i w, __m256i w_shoup, __m256i q) {
  const __m256i est = mul_hi32(y, w_shoup);
  return _mm256_sub_epi32(_mm256_mullo_epi32(y, w), _mm256_mullo_epi32(est, q));
}

// v - bound where v >= bound, for v < 2 bound (unsigned: v - bound wraps above v otherwise).
inline __m256i reduce_once(__m256i v, __m256i bound) { return _mm256_min_epu32(v, _mm256_sub_epi32(v, bound)); }

struct Consts {
  __m256i q, two_q;
};

// Cooley-Tukey butterfly: x, y in [0, 4q) -> x + wy, x - wy in [0, 4q).
inline void ct(__m256i& x, __m256i& y, __m256i w, __m256i ws, const Consts& c) {
  const __m256i u = reduce_once(x, c.two_q);
  const __m256i v = mul_shoup_lazy(y, w, ws, c.q);
  x = _mm256_add_epi32(u, v);
  y = _mm256_sub_epi32(_mm256_add_epi32(u, c.two_q), v);
}

// Gentleman-Sande butterfly: x, y in [0, 2q) -> (x + y) mod 2q, (x - y) w in [0, 2q).
inline void gs(__m256i& x, __m256i& y, __m256i w, __m256i ws, const Consts& c) {
  const __m256i s = reduce_once(_mm256_add_epi32(x, y), c.two_q);
  y = mul_shoup_lazy(_mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), y), w, ws, c.q);
  x = s;
}

// Regrouping of 16 values (a = values 0..7, b = 8..15) into the x and y
// halves of span-t butterflies, and back. t = 4: two blocks; t = 2: four
// (x lanes in block order 0, 2, 1, 3); t = 1: eight (0, 4, 1, 5, 2, 6, 3, 7).
template <int T>
inline void split(__m256i a, __m256i b, __m256i& x, __m256i& y) {
  if constexpr (T == 4) {
    x = _mm256_permute2x128_si256(a, b, 0x20);
    y = _mm256_permute2x128_si256(a, b, 0x31);
  } else if constexpr (T == 2) {
    x = _mm256_unpacklo_epi64(a, b);
    y = _mm256_unpackhi_epi64(a, b);
  } else {
    x = _mm256_blend_epi32(a, _mm256_slli_epi64(b, 32), 0xAA);
    y = _mm256_blend_epi32(_mm256_srli_epi64(a, 32), b, 0xAA);
  }
}
template <int T>
inline void merge(__m256i x, __m256i y, __m256i& a, __m256i& b) {
  if constexpr (T == 4) {
    a = _mm256_permute2x128_si256(x, y, 0x20);
    b = _mm256_permute2x128_si256(x, y, 0x31);
  } else if constexpr (T == 2) {
    a = _mm256_unpacklo_epi64(x, y);
    b = _mm256_unpackhi_epi64(x, y);
  } else {
    a = _mm256_blend_epi32(x, _mm256_slli_epi64(y, 32), 0xAA);
    b = _mm256_blend_epi32(_mm256_srli_epi64(x, 32), y, 0xAA);
  }
}

// One span-T layer (T = 4, 2, 1) over n values with per-lane twiddles
// (n / 2 of them, 8 per group of 16 values).
template <int T, bool Forward>
inline void small_span_layer(std::uint32_t* a, std::size_t n, const std::uint32_t* w, const std::uint32_t* ws,
                             const Consts& c) {
  for (std::size_t g = 0; g < n; g += 16) {
    __m256i x, y;
    split<T>(load(a + g), load(a + g + 8), x, y);
    const __m256i wv = load(w + g / 2), wsv = load(ws + g / 2);
    if constexpr (Forward) ct(x, y, wv, wsv, c);
    else gs(x, y, wv, wsv, c);
    __m256i lo, hi;
    merge<T>(x, y, lo, hi);
    store(a + g, lo);
    store(a + g + 8, hi);
  }
}

}  // namespace

void ntt_forward_u32_avx2(std::uint32_t* a, const NttTables32& t) noexcept {
  const std::size_t n = t.n;
  const Consts c{_mm256_set1_epi32(static_cast<int>(t.q)), _mm256_set1_epi32(static_cast<int>(2 * t.q))};
  std::size_t m = 1, span = n >> 1;
  for (; span >= 8; m <<= 1, span >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const __m256i w = _mm256_set1_epi32(static_cast<int>(t.roots[m + i]));
      const __m256i ws = _mm256_set1_epi32(static_cast<int>(t.roots_shoup[m + i]));
      std::uint32_t* x = a + 2 * i * span;
      std::uint32_t* y = x + span;
      for (std::size_t j = 0; j < span; j += 8) {
        __m256i xv = load(x + j), yv = load(y + j);
        ct(xv, yv, w, ws, c);
        store(x + j, xv);
        store(y + j, yv);
      }
    }
  }
  small_span_layer<4, true>(a, n, t.lane_fwd[0].data(), t.lane_fwd_shoup[0].data(), c);
  small_span_layer<2, true>(a, n, t.lane_fwd[1].data(), t.lane_fwd_shoup[1].data(), c);
  small_span_layer<1, true>(a, n, t.lane_fwd[2].data(), t.lane_fwd_shoup[2].data(), c);
  for (std::size_t i = 0; i < n; i += 8) store(a + i, reduce_once(reduce_once(load(a + i), c.two_q), c.q));
}

void ntt_inverse_u32_avx2(std::uint32_t* a, const NttTables32& t) noexcept {
  const std::size_t n = t.n;
  const Consts c{_mm256_set1_epi32(static_cast<int>(t.q)), _mm256_set1_epi32(static_cast<int>(2 * t.q))};
  small_span_layer<1, false>(a, n, t.lane_inv[2].data(), t.lane_inv_shoup[2].data(), c);
  small_span_layer<2, false>(a, n, t.lane_inv[1].data(), t.lane_inv_shoup[1].data(), c);
  small_span_layer<4, false>(a, n, t.lane_inv[0].data(), t.lane_inv_shoup[0].data(), c);
  for (std::size_t m = n >> 3, span = 8; m > 1; m >>= 1, span <<= 1) {
    const std::size_t h = m >> 1;
    for (std::size_t i = 0; i < h; ++i) {
      const __m256i w = _mm256_set1_epi32(static_cast<int>(t.inv_roots[h + i]));
      const __m256i ws = _mm256_set1_epi32(static_cast<int>(t.inv_roots_shoup[h + i]));
      std::uint32_t* x = a + 2 * i * span;
      std::uint32_t* y = x + span;
      for (std::size_t j = 0; j < span; j += 8) {
        __m256i xv = load(x + j), yv = load(y + j);
        gs(xv, yv, w, ws, c);
        store(x + j, xv);
        store(y + j, yv);
      }
    }
  }
  const __m256i w = _mm256_set1_epi32(static_cast<int>(t.inv_n));
  const __m256i ws = _mm256_set1_epi32(static_cast<int>(t.inv_n_shoup));
  for (std::size_t i = 0; i < n; i += 8) store(a + i, reduce_once(mul_shoup_lazy(load(a + i), w, ws, c.q), c.q));
}

void narrow_u64_to_u32_avx2(const std::uint64_t* in, std::uint32_t* out, std::size_t n) noexcept {
  const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i lo = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)), pick);
    const __m256i hi =
        _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i + 4)), pick);
    store(out + i, _mm256_permute2x128_si256(lo, hi, 0x20));
  }
  for (; i < n; ++i) out[i] = static_cast<std::uint32_t>(in[i]);
}

void widen_u32_to_u64_avx2(const std::uint32_t* in, std::uint64_t* out, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = load(in + i);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 4), _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
  }
  for (; i < n; ++i) out[i] = in[i];
}

}  // namespace fhellm::math
