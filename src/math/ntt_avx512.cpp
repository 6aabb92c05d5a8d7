// AVX-512 IFMA NTT kernels for q < 2^50: eight 64-bit lanes, Shoup products
// with 52-bit constants w' = floor(w 2^52 / q) on vpmadd52{lo,hi}uq (as in
// Intel HEXL, Boemer et al. 2021). Values stay below 4q < 2^52 so every
// operand fits the 52-bit multiplier. Layers with span t >= 8 run on whole
// vectors; spans 4, 2, 1 regroup 16 values into x and y halves with
// vpermt2q, run the same butterfly, and scatter back.
#include <immintrin.h>

#include <array>

#include "math/ntt.h"

namespace fhellm::math {
namespace {

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;

// y * w mod q in [0, 2q), for y < 2^52.
inline __m512i mul_shoup52_lazy(__m512i y, __m512i w, __m512i w_shoup, __m512i q) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i q_est = _mm512_madd52hi_epu64(zero, y, w_shoup);
  const __m512i prod = _mm512_madd52lo_epu64(zero, y, w);
  const __m512i sub = _mm512_madd52lo_epu64(zero, q_est, q);
  return _mm512_and_si512(_mm512_sub_epi64(prod, sub), _mm512_set1_epi64(static_cast<long long>(kMask52)));
}

inline __m512i reduce_once(__m512i v, __m512i bound) {
  const __mmask8 ge = _mm512_cmpge_epu64_mask(v, bound);
  return _mm512_mask_sub_epi64(v, ge, v, bound);
}

// Forward (Cooley-Tukey) butterfly on x in [0, 4q), y in [0, 4q).
inline void forward_butterfly(__m512i& x, __m512i& y, __m512i w, __m512i ws, __m512i q, __m512i two_q) {
  const __m512i u = reduce_once(x, two_q);
  const __m512i v = mul_shoup52_lazy(y, w, ws, q);
  x = _mm512_add_epi64(u, v);
  y = _mm512_sub_epi64(_mm512_add_epi64(u, two_q), v);
}

// Inverse (Gentleman-Sande) butterfly on x, y in [0, 2q).
inline void inverse_butterfly(__m512i& x, __m512i& y, __m512i w, __m512i ws, __m512i q, __m512i two_q) {
  const __m512i s = reduce_once(_mm512_add_epi64(x, y), two_q);
  const __m512i d = _mm512_sub_epi64(_mm512_add_epi64(x, two_q), y);
  x = s;
  y = mul_shoup52_lazy(d, w, ws, q);
}

// Lane maps for spans t in {1, 2, 4} over 16 consecutive values (a: 0..7, b: 8..15).
struct SmallSpan {
  __m512i gather_x, gather_y;    // x_l, y_l from (a, b)
  __m512i scatter_a, scatter_b;  // a_p, b_p from (x', y')
  __m512i root_spread;           // lane -> which of the 8 / t roots
};

SmallSpan make_span(std::size_t t) {
  std::array<long long, 8> gx{}, gy{}, sa{}, sb{}, rs{};
  for (std::size_t l = 0; l < 8; ++l) {
    const std::size_t block = l / t, off = l % t;
    gx[l] = static_cast<long long>(block * 2 * t + off);
    gy[l] = static_cast<long long>(block * 2 * t + t + off);
    rs[l] = static_cast<long long>(block);
  }
  for (std::size_t p = 0; p < 16; ++p) {
    const std::size_t block = p / (2 * t), off = p % (2 * t);
    const long long src = off < t ? static_cast<long long>(block * t + off)
                                  : static_cast<long long>(8 + block * t + off - t);
    (p < 8 ? sa[p] : sb[p - 8]) = src;
  }
  auto load = [](const std::array<long long, 8>& v) { return _mm512_loadu_si512(v.data()); };
  return {load(gx), load(gy), load(sa), load(sb), load(rs)};
}

const SmallSpan& span(std::size_t t) {
  static const SmallSpan s1 = make_span(1), s2 = make_span(2), s4 = make_span(4);
  return t == 1 ? s1 : (t == 2 ? s2 : s4);
}

// The roots of one 16-value block: 8 fill the vector; fewer are read as a
// 256-bit load (the span's permutation only uses the first `count`).
inline __m512i load_roots(const std::uint64_t* p, std::size_t count) noexcept {
  return count == 8 ? _mm512_loadu_si512(p)
                    : _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

}  // namespace

void ntt_forward_ifma(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t qv = tables.modulus().value();
  const std::uint64_t* wv = tables.forward_values().data();
  const std::uint64_t* ws = tables.forward_shoup52().data();
  const __m512i q = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i two_q = _mm512_set1_epi64(static_cast<long long>(2 * qv));
  std::size_t m = 1, t = n >> 1;
  for (; t >= 8; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const __m512i w = _mm512_set1_epi64(static_cast<long long>(wv[m + i]));
      const __m512i wsh = _mm512_set1_epi64(static_cast<long long>(ws[m + i]));
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        forward_butterfly(xv, yv, w, wsh, q, two_q);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
  }
  for (; m < n; m <<= 1, t >>= 1) {
    const SmallSpan& sp = span(t);
    const std::size_t roots_per_16 = 8 / t;
    for (std::size_t start = 0; start < n; start += 16) {
      const std::size_t root0 = m + start / (2 * t);
      // roots_per_16 consecutive roots, spread over lanes.
      const __m512i wr = load_roots(wv + root0, roots_per_16);
      const __m512i sr = load_roots(ws + root0, roots_per_16);
      const __m512i w = _mm512_permutexvar_epi64(sp.root_spread, wr);
      const __m512i wsh = _mm512_permutexvar_epi64(sp.root_spread, sr);
      const __m512i va = _mm512_loadu_si512(a + start), vb = _mm512_loadu_si512(a + start + 8);
      __m512i xv = _mm512_permutex2var_epi64(va, sp.gather_x, vb);
      __m512i yv = _mm512_permutex2var_epi64(va, sp.gather_y, vb);
      forward_butterfly(xv, yv, w, wsh, q, two_q);
      _mm512_storeu_si512(a + start, _mm512_permutex2var_epi64(xv, sp.scatter_a, yv));
      _mm512_storeu_si512(a + start + 8, _mm512_permutex2var_epi64(xv, sp.scatter_b, yv));
    }
  }
  for (std::size_t i = 0; i < n; i += 8) {
    const __m512i v = _mm512_loadu_si512(a + i);
    _mm512_storeu_si512(a + i, reduce_once(reduce_once(v, two_q), q));
  }
}

void ntt_inverse_ifma(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t qv = tables.modulus().value();
  const std::uint64_t* wv = tables.inverse_values().data();
  const std::uint64_t* ws = tables.inverse_shoup52().data();
  const __m512i q = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i two_q = _mm512_set1_epi64(static_cast<long long>(2 * qv));
  std::size_t m = n, t = 1;
  for (; m > 1 && t < 8; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    const SmallSpan& sp = span(t);
    const std::size_t roots_per_16 = 8 / t;
    for (std::size_t start = 0; start < n; start += 16) {
      const std::size_t root0 = h + start / (2 * t);
      const __m512i wr = load_roots(wv + root0, roots_per_16);
      const __m512i sr = load_roots(ws + root0, roots_per_16);
      const __m512i w = _mm512_permutexvar_epi64(sp.root_spread, wr);
      const __m512i wsh = _mm512_permutexvar_epi64(sp.root_spread, sr);
      const __m512i va = _mm512_loadu_si512(a + start), vb = _mm512_loadu_si512(a + start + 8);
      __m512i xv = _mm512_permutex2var_epi64(va, sp.gather_x, vb);
      __m512i yv = _mm512_permutex2var_epi64(va, sp.gather_y, vb);
      inverse_butterfly(xv, yv, w, wsh, q, two_q);
      _mm512_storeu_si512(a + start, _mm512_permutex2var_epi64(xv, sp.scatter_a, yv));
      _mm512_storeu_si512(a + start + 8, _mm512_permutex2var_epi64(xv, sp.scatter_b, yv));
    }
  }
  for (; m > 1; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    for (std::size_t i = 0; i < h; ++i) {
      const __m512i w = _mm512_set1_epi64(static_cast<long long>(wv[h + i]));
      const __m512i wsh = _mm512_set1_epi64(static_cast<long long>(ws[h + i]));
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        inverse_butterfly(xv, yv, w, wsh, q, two_q);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
  }
  const __m512i w = _mm512_set1_epi64(static_cast<long long>(tables.inv_degree().value));
  const __m512i wsh = _mm512_set1_epi64(static_cast<long long>(tables.inv_degree_shoup52()));
  for (std::size_t i = 0; i < n; i += 8) {
    const __m512i v = _mm512_loadu_si512(a + i);
    _mm512_storeu_si512(a + i, reduce_once(mul_shoup52_lazy(v, w, wsh, q), q));
  }
}

}  // namespace fhellm::math
