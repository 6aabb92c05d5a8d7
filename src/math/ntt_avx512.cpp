// AVX-512 IFMA NTT kernels for q < 2^50: eight 64-bit lanes, Shoup products
// with 52-bit constants w' = floor(w 2^52 / q) on vpmadd52{lo,hi}uq (as in
// Intel HEXL, Boemer et al. 2021). Values stay below 4q < 2^52 so every
// operand fits the 52-bit multiplier. Layers with span t >= 8 run on whole
// vectors; spans 4, 2, 1 regroup 16 values into x and y halves with
// vpermt2q, run the same butterfly, and scatter back.
#include <immintrin.h>

#include <array>

#include "fhellm/math/ntt.h"

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

}  // namespace

void ntt_forward_ifma(std::uint64_t* a, const NttTables& tables) noexcept {
  // Same butterflies as the layer-by-layer loop, fewer passes over memory:
  // layers with span t >= 16 go two at a time (radix 4: four vectors loaded,
  // two butterfly layers in registers, stored once), and the last three
  // (spans 4, 2, 1) plus the final reduction run in one pass per 16 values.
  const std::size_t n = tables.poly_degree();
  const std::uint64_t qv = tables.modulus().value();
  const std::uint64_t* wv = tables.forward_values().data();
  const std::uint64_t* ws = tables.forward_shoup52().data();
  const __m512i q = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i two_q = _mm512_set1_epi64(static_cast<long long>(2 * qv));
  auto root = [&](std::size_t i, __m512i& w, __m512i& wsh) {
    w = _mm512_set1_epi64(static_cast<long long>(wv[i]));
    wsh = _mm512_set1_epi64(static_cast<long long>(ws[i]));
  };
  std::size_t m = 1, t = n >> 1;
  std::size_t big_layers = 0;
  for (std::size_t s = t; s >= 8; s >>= 1) ++big_layers;
  if (big_layers % 2 == 1) {  // one radix-2 layer first
    for (std::size_t i = 0; i < m; ++i) {
      __m512i w, wsh;
      root(m + i, w, wsh);
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        forward_butterfly(xv, yv, w, wsh, q, two_q);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
    m <<= 1;
    t >>= 1;
  }
  for (; t >= 16; m <<= 2, t >>= 2) {
    const std::size_t h = t >> 1;
    for (std::size_t i = 0; i < m; ++i) {
      __m512i w1, s1, w2, s2, w3, s3;
      root(m + i, w1, s1);
      root(2 * m + 2 * i, w2, s2);
      root(2 * m + 2 * i + 1, w3, s3);
      std::uint64_t* p = a + 2 * i * t;
      for (std::size_t j = 0; j < h; j += 8) {
        __m512i x0 = _mm512_loadu_si512(p + j), x1 = _mm512_loadu_si512(p + h + j);
        __m512i x2 = _mm512_loadu_si512(p + t + j), x3 = _mm512_loadu_si512(p + t + h + j);
        forward_butterfly(x0, x2, w1, s1, q, two_q);
        forward_butterfly(x1, x3, w1, s1, q, two_q);
        forward_butterfly(x0, x1, w2, s2, q, two_q);
        forward_butterfly(x2, x3, w3, s3, q, two_q);
        _mm512_storeu_si512(p + j, x0);
        _mm512_storeu_si512(p + h + j, x1);
        _mm512_storeu_si512(p + t + j, x2);
        _mm512_storeu_si512(p + t + h + j, x3);
      }
    }
  }
  // t == 8 here would mean an odd count, handled above; now t == 4.
  const SmallSpan sp4 = span(4), sp2 = span(2), sp1 = span(1);  // copies: kept in registers
  const std::size_t m4 = n / 8, m2 = n / 4, m1 = n / 2;
  auto small_layer = [&](const SmallSpan& sp, std::size_t root0, std::size_t roots_per_16, __m512i& va, __m512i& vb) {
    const __m512i wr = roots_per_16 == 8 ? _mm512_loadu_si512(wv + root0)
                                         : _mm512_maskz_loadu_epi64(0x0F, wv + root0);
    const __m512i sr = roots_per_16 == 8 ? _mm512_loadu_si512(ws + root0)
                                         : _mm512_maskz_loadu_epi64(0x0F, ws + root0);
    const __m512i w = _mm512_maskz_permutexvar_epi64(0xFF, sp.root_spread, wr);
    const __m512i wsh = _mm512_maskz_permutexvar_epi64(0xFF, sp.root_spread, sr);
    __m512i xv = _mm512_permutex2var_epi64(va, sp.gather_x, vb);
    __m512i yv = _mm512_permutex2var_epi64(va, sp.gather_y, vb);
    forward_butterfly(xv, yv, w, wsh, q, two_q);
    va = _mm512_permutex2var_epi64(xv, sp.scatter_a, yv);
    vb = _mm512_permutex2var_epi64(xv, sp.scatter_b, yv);
  };
  for (std::size_t start = 0; start < n; start += 16) {
    __m512i va = _mm512_loadu_si512(a + start), vb = _mm512_loadu_si512(a + start + 8);
    small_layer(sp4, m4 + start / 8, 2, va, vb);
    small_layer(sp2, m2 + start / 4, 4, va, vb);
    small_layer(sp1, m1 + start / 2, 8, va, vb);
    _mm512_storeu_si512(a + start, reduce_once(reduce_once(va, two_q), q));
    _mm512_storeu_si512(a + start + 8, reduce_once(reduce_once(vb, two_q), q));
  }
}

void ntt_inverse_ifma(std::uint64_t* a, const NttTables& tables) noexcept {
  // Same butterflies as the layer-by-layer loop, fewer passes: spans 1, 2, 4
  // in one pass per 16 values, then spans >= 8 two layers at a time (radix
  // 4), the scaling by N^-1 folded into the last pass (N >= 16: at least one
  // span-8 layer follows the small ones).
  const std::size_t n = tables.poly_degree();
  const std::uint64_t qv = tables.modulus().value();
  const std::uint64_t* wv = tables.inverse_values().data();
  const std::uint64_t* ws = tables.inverse_shoup52().data();
  const __m512i q = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i two_q = _mm512_set1_epi64(static_cast<long long>(2 * qv));
  const __m512i inv_n = _mm512_set1_epi64(static_cast<long long>(tables.inv_degree().value));
  const __m512i inv_n_sh = _mm512_set1_epi64(static_cast<long long>(tables.inv_degree_shoup52()));
  auto root = [&](std::size_t i, __m512i& w, __m512i& wsh) {
    w = _mm512_set1_epi64(static_cast<long long>(wv[i]));
    wsh = _mm512_set1_epi64(static_cast<long long>(ws[i]));
  };
  auto scale = [&](__m512i v) { return reduce_once(mul_shoup52_lazy(v, inv_n, inv_n_sh, q), q); };
  auto small_layer = [&](const SmallSpan& sp, std::size_t root0, std::size_t roots_per_16, __m512i& va, __m512i& vb) {
    const __m512i wr = roots_per_16 == 8 ? _mm512_loadu_si512(wv + root0)
                                         : _mm512_maskz_loadu_epi64(0x0F, wv + root0);
    const __m512i sr = roots_per_16 == 8 ? _mm512_loadu_si512(ws + root0)
                                         : _mm512_maskz_loadu_epi64(0x0F, ws + root0);
    const __m512i w = _mm512_maskz_permutexvar_epi64(0xFF, sp.root_spread, wr);
    const __m512i wsh = _mm512_maskz_permutexvar_epi64(0xFF, sp.root_spread, sr);
    __m512i xv = _mm512_permutex2var_epi64(va, sp.gather_x, vb);
    __m512i yv = _mm512_permutex2var_epi64(va, sp.gather_y, vb);
    inverse_butterfly(xv, yv, w, wsh, q, two_q);
    va = _mm512_permutex2var_epi64(xv, sp.scatter_a, yv);
    vb = _mm512_permutex2var_epi64(xv, sp.scatter_b, yv);
  };
  {
    const SmallSpan sp1 = span(1), sp2 = span(2), sp4 = span(4);  // copies: kept in registers
    const std::size_t h1 = n / 2, h2 = n / 4, h4 = n / 8;
    for (std::size_t start = 0; start < n; start += 16) {
      __m512i va = _mm512_loadu_si512(a + start), vb = _mm512_loadu_si512(a + start + 8);
      small_layer(sp1, h1 + start / 2, 8, va, vb);
      small_layer(sp2, h2 + start / 4, 4, va, vb);
      small_layer(sp4, h4 + start / 8, 2, va, vb);
      _mm512_storeu_si512(a + start, va);
      _mm512_storeu_si512(a + start + 8, vb);
    }
  }
  std::size_t m = n / 8, t = 8;  // m: blocks of the next layer times 2
  std::size_t big_layers = 0;
  for (std::size_t s = m; s > 1; s >>= 1) ++big_layers;
  if (big_layers % 2 == 1) {  // one radix-2 layer (span 8) first
    const std::size_t h = m >> 1;
    const bool last = h == 1;
    for (std::size_t i = 0; i < h; ++i) {
      __m512i w, wsh;
      root(h + i, w, wsh);
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        inverse_butterfly(xv, yv, w, wsh, q, two_q);
        _mm512_storeu_si512(x + j, last ? scale(xv) : xv);
        _mm512_storeu_si512(y + j, last ? scale(yv) : yv);
      }
    }
    m >>= 1;
    t <<= 1;
  }
  for (; m > 1; m >>= 2, t <<= 2) {
    const std::size_t h = m >> 1;      // blocks of the first layer of the pair
    const bool last = m == 4;          // the pair ends with the span-n/2 layer
    for (std::size_t i = 0; i < h / 2; ++i) {
      __m512i w1, s1, w2, s2, w3, s3;
      root(h + 2 * i, w1, s1);
      root(h + 2 * i + 1, w2, s2);
      root(h / 2 + i, w3, s3);
      std::uint64_t* p = a + 4 * i * t;
      for (std::size_t j = 0; j < t; j += 8) {
        __m512i x0 = _mm512_loadu_si512(p + j), x1 = _mm512_loadu_si512(p + t + j);
        __m512i x2 = _mm512_loadu_si512(p + 2 * t + j), x3 = _mm512_loadu_si512(p + 3 * t + j);
        inverse_butterfly(x0, x1, w1, s1, q, two_q);
        inverse_butterfly(x2, x3, w2, s2, q, two_q);
        inverse_butterfly(x0, x2, w3, s3, q, two_q);
        inverse_butterfly(x1, x3, w3, s3, q, two_q);
        if (last) {
          x0 = scale(x0);
          x1 = scale(x1);
          x2 = scale(x2);
          x3 = scale(x3);
        }
        _mm512_storeu_si512(p + j, x0);
        _mm512_storeu_si512(p + t + j, x1);
        _mm512_storeu_si512(p + 2 * t + j, x2);
        _mm512_storeu_si512(p + 3 * t + j, x3);
      }
    }
  }
}

}  // namespace fhellm::math
