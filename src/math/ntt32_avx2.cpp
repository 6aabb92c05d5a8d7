// AVX2 NTTs for primes q < 2^30 on 32-bit words, eight lanes per vector (the
// 64-bit AVX2 kernels of ntt_avx2.cpp have four and build every product from
// four 32x32-bit multiplies). Same algorithm as the reference (Harvey's lazy
// butterflies, values below 4q < 2^32 inside) with 32-bit Shoup constants
// floor(w 2^32 / q); the fully reduced outputs equal the reference's.
//
// Tuned for AMD Zen (this dev machine: 256-bit ops run as two 128-bit halves,
// one vector multiply pipe, one 64-bit shift pipe, slow vperm2i128). A Shoup
// product costs two vpmuludq and two vpmulld (12 cycles of the multiply pipe
// per vector), which bounds a butterfly at about 1.5 cycles; a signed
// Montgomery product (six vpmuludq) or (lo(y ws) q + y (w 2^32 mod q)) / 2^32
// cost the same there, and a double-precision FMA variant runs slower. The
// rest of the work is arranged to hide behind the multiplies:
//  * Outer passes (butterfly spans >= 32) merge up to three layers (radix 8):
//    eight vectors are loaded, go through three layers with broadcast
//    twiddles, and are stored once.
//  * One inner pass per 64-value block does the last five layers (spans 16,
//    8, 4, 2, 1) in registers; the forward one also does the final reduction
//    to [0, q); the inverse's last outer layer folds in the factor 1/N.
//  * No 64-bit shifts and no lane-crossing shuffles: odd lanes move down with
//    byte shifts (vpsrldq), and 128-bit halves are regrouped by the loads and
//    stores themselves (see the inner pass).
// N = 16 and 32 (too small for one inner block) use a scalar loop.
#include <immintrin.h>

#include "math/keyswitch_kernels.h"
#include "ntt32_simd.h"

namespace fhellm::math {
namespace {

inline __m256i load(const std::uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store(std::uint32_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
// Four words from lo and four from hi (the two 128-bit halves).
inline __m256i load_halves(const std::uint32_t* lo, const std::uint32_t* hi) {
  return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi), reinterpret_cast<const __m128i*>(lo));
}
inline void store_halves(std::uint32_t* lo, std::uint32_t* hi, __m256i v) {
  _mm256_storeu2_m128i(reinterpret_cast<__m128i*>(hi), reinterpret_cast<__m128i*>(lo), v);
}

// Odd lanes moved to the even positions, where vpmuludq reads them (a byte
// shift: runs on the shuffle pipes, unlike the 64-bit shift vpsrlq).
inline __m256i odd_down(__m256i v) { return _mm256_srli_si256(v, 4); }

// A twiddle w with its Shoup constant ws = floor(w 2^32 / q); ws_odd is
// odd_down(ws) (equal to ws for a broadcast twiddle).
struct Twiddle {
  __m256i w, ws, ws_odd;
};
inline Twiddle broadcast_twiddle(std::uint32_t w, std::uint32_t ws) {
  const __m256i s = _mm256_set1_epi32(static_cast<int>(ws));
  return {_mm256_set1_epi32(static_cast<int>(w)), s, s};
}
// Eight per-lane twiddles stored as 8 values then their 8 Shoup constants.
inline Twiddle lane_twiddle(const std::uint32_t* p) {
  const __m256i ws = load(p + 8);
  return {load(p), ws, odd_down(ws)};
}

// y * w mod q in [0, 2q) for y < 2^32 (Shoup): est = floor(y ws / 2^32) from
// the high halves of two vpmuludq (even and odd lanes), then y w - est q mod 2^32.
inline __m256i mul_shoup_lazy(__m256i y, const Twiddle& t, __m256i q) {
  const __m256i even = _mm256_mul_epu32(y, t.ws);
  const __m256i odd = _mm256_mul_epu32(odd_down(y), t.ws_odd);
  const __m256i est = _mm256_blend_epi32(odd_down(even), odd, 0xAA);
  return _mm256_sub_epi32(_mm256_mullo_epi32(y, t.w), _mm256_mullo_epi32(est, q));
}

// v - bound where v >= bound, for v < 2 bound (unsigned: v - bound wraps above v otherwise).
inline __m256i reduce_once(__m256i v, __m256i bound) { return _mm256_min_epu32(v, _mm256_sub_epi32(v, bound)); }

struct Consts {
  __m256i q, two_q;
};

// One layer of Cooley-Tukey butterflies on the P pairs (v[x_of(p)],
// v[x_of(p) + dy]) with twiddles tw_of(p): x, y in [0, 4q) -> x + wy, x - wy
// in [0, 4q). All P products come first, then the additions: interleaved per
// butterfly, the additions waiting on one product hold up the next products
// on the multiply pipe (6-8% slower on Zen).
template <int P, class XOf, class TwOf>
inline void ct_layer(__m256i* v, int dy, XOf x_of, TwOf tw_of, const Consts& c) {
  __m256i prod[P];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) prod[p] = mul_shoup_lazy(v[x_of(p) + dy], tw_of(p), c.q);
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    __m256i& x = v[x_of(p)];
    const __m256i u = reduce_once(x, c.two_q);
    x = _mm256_add_epi32(u, prod[p]);
    v[x_of(p) + dy] = _mm256_sub_epi32(_mm256_add_epi32(u, c.two_q), prod[p]);
  }
}

// Gentleman-Sande butterfly: x, y in [0, 2q) -> (x + y) mod 2q, (x - y) w in [0, 2q).
inline void gs(__m256i& x, __m256i& y, const Twiddle& t, const Consts& c) {
  const __m256i s = reduce_once(_mm256_add_epi32(x, y), c.two_q);
  y = mul_shoup_lazy(_mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), y), t, c.q);
  x = s;
}

// s / N mod q for s in [0, 2q), fully reduced, with one vpmulld instead of
// the three multiplies of a Shoup product. As q = 1 + c N (q = 1 mod 2N) and
// N is a power of two: with k = -s mod N, s + k is a multiple of N and
// (s + k) / N + k c = (s + k q) / N = s / N mod q; the sum is below
// 2q / N + 1 + q <= 2q.
struct DivideByN {
  __m256i mask, c;  // N - 1 and c = (q - 1) / N
  __m128i log_n;
  explicit DivideByN(const NttTables32& t)
      : mask(_mm256_set1_epi32(static_cast<int>(t.n - 1))),
        c(_mm256_set1_epi32(static_cast<int>((t.q - 1) / t.n))),
        log_n(_mm_cvtsi32_si128(__builtin_ctzll(t.n))) {}
};
inline __m256i divide_by_n(__m256i s, const DivideByN& d, const Consts& c) {
  const __m256i k = _mm256_and_si256(_mm256_sub_epi32(_mm256_setzero_si256(), s), d.mask);
  const __m256i quotient = _mm256_srl_epi32(_mm256_add_epi32(s, k), d.log_n);
  return reduce_once(_mm256_add_epi32(quotient, _mm256_mullo_epi32(k, d.c)), c.q);
}

// Transpose of the 4x4 blocks of words in each 128-bit half of r[0..3]
// (unpacks only: they stay within halves).
inline void transpose4(__m256i* r) {
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  r[0] = _mm256_unpacklo_epi64(t0, t2);
  r[1] = _mm256_unpackhi_epi64(t0, t2);
  r[2] = _mm256_unpacklo_epi64(t1, t3);
  r[3] = _mm256_unpackhi_epi64(t1, t3);
}

// Outer pass: the L layers of spans span, span / 2, ..., span / 2^(L-1)
// (the smallest >= 8) on 2^L vectors at a time, with broadcast twiddles.
// Forward (Cooley-Tukey) only.
template <int L>
void ct_pass(std::uint32_t* a, std::size_t n, std::size_t span, const NttTables32& t, const Consts& c) {
  constexpr int V = 1 << L;
  const std::size_t m = n / (2 * span), stride = span >> (L - 1);
  for (std::size_t i = 0; i < m; ++i) {
    std::uint32_t* base = a + 2 * i * span;
    for (std::size_t j = 0; j < stride; j += 8) {
      __m256i v[V];
#pragma GCC unroll 8
      for (int k = 0; k < V; ++k) v[k] = load(base + j + k * stride);
#pragma GCC unroll 3
      for (int l = 0; l < L; ++l) {
        // Pair p: group g = p / half (twiddle index), x vector 2 half g + p % half.
        const int half = V >> (l + 1);
        ct_layer<V / 2>(
            v, half, [&](int p) { return 2 * half * (p / half) + p % half; },
            [&](int p) {
              const std::size_t r = ((m + i) << l) + static_cast<std::size_t>(p / half);
              return broadcast_twiddle(t.roots[r], t.roots_shoup[r]);
            },
            c);
      }
#pragma GCC unroll 8
      for (int k = 0; k < V; ++k) store(base + j + k * stride, v[k]);
    }
  }
}

// Inverse outer pass: the L layers of spans span, 2 span, ..., 2^(L-1) span
// (span >= 8) on 2^L vectors at a time. Last: this pass ends with the final
// layer (span N / 2), whose outputs it also divides by N and reduces to
// [0, q): x' = (x + y) / N, y' = (x - y) (w / N) with t.inv_n_root = w / N.
template <int L, bool Last>
void gs_pass(std::uint32_t* a, std::size_t n, std::size_t span, const NttTables32& t, const Consts& c) {
  constexpr int V = 1 << L;
  const std::size_t blocks = n / (V * span);
  const DivideByN dn(t);
  for (std::size_t i = 0; i < blocks; ++i) {
    std::uint32_t* base = a + i * V * span;
    for (std::size_t j = 0; j < span; j += 8) {
      __m256i v[V];
#pragma GCC unroll 8
      for (int k = 0; k < V; ++k) v[k] = load(base + j + k * span);
#pragma GCC unroll 3
      for (int l = 0; l < (Last ? L - 1 : L); ++l) {
        const int half = 1 << l;
        const std::size_t h = n / (2 * (span << l));
#pragma GCC unroll 4
        for (int g = 0; g < (V >> (l + 1)); ++g) {
          const std::size_t r = h + i * static_cast<std::size_t>(V >> (l + 1)) + static_cast<std::size_t>(g);
          const Twiddle tw = broadcast_twiddle(t.inv_roots[r], t.inv_roots_shoup[r]);
#pragma GCC unroll 4
          for (int k = 0; k < half; ++k) gs(v[2 * half * g + k], v[2 * half * g + k + half], tw, c);
        }
      }
      if constexpr (Last) {
        const Twiddle inv_n_w = broadcast_twiddle(t.inv_n_root, t.inv_n_root_shoup);
#pragma GCC unroll 4
        for (int k = 0; k < V / 2; ++k) {
          const __m256i x = v[k], y = v[k + V / 2];
          v[k] = divide_by_n(reduce_once(_mm256_add_epi32(x, y), c.two_q), dn, c);
          // x - y + 2q < 4q: a valid Shoup input.
          v[k + V / 2] =
              reduce_once(mul_shoup_lazy(_mm256_sub_epi32(_mm256_add_epi32(x, c.two_q), y), inv_n_w, c.q), c.q);
        }
      }
#pragma GCC unroll 8
      for (int k = 0; k < V; ++k) store(base + j + k * span, v[k]);
    }
  }
}

// Inner pass on one block of 64 values, held in eight vectors in one of two
// layouts (offset o = 32 h + 16 b4 + 8 b3 + 4 b2 + 2 b1 + b0 in the block;
// lane = 4 h + sublane):
//   R: vector 4 b4 + 2 b3 + b2, sublane 2 b1 + b0 (half h loaded from a + 32 h);
//   T: vector 4 b4 + 2 b1 + b0, sublane 2 b3 + b2 (transpose4 of each R half).
// In R the spans 16, 8, 4 pair whole vectors, in T the spans 2 and 1 do.
// Twiddles: 13 lane vectors per block (NttTables32::lane_fwd / lane_inv).
inline void load_block(const std::uint32_t* a, __m256i* r) {
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) r[k] = load_halves(a + 4 * k, a + 32 + 4 * k);
}
inline void store_block(std::uint32_t* a, const __m256i* r) {
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) store_halves(a + 4 * k, a + 32 + 4 * k, r[k]);
}

void ct_inner(std::uint32_t* a, std::size_t n, const std::uint32_t* tw, const Consts& c) {
  // x vectors of the pairs: spans 16 (R) / 8 (R) and 2 (T) / 4 (R) and 1 (T).
  const auto x16 = [](int p) { return p; };
  const auto x8 = [](int p) { return (p & 1) + 4 * (p >> 1); };
  const auto x4 = [](int p) { return 2 * p; };
  for (std::size_t b = 0; b < n; b += 64, a += 64) {
    __m256i r[8];
    load_block(a, r);
    const Twiddle t16 = lane_twiddle(tw);
    ct_layer<4>(r, 4, x16, [&](int) { return t16; }, c);
    ct_layer<4>(r, 2, x8, [&](int p) { return lane_twiddle(tw + 16 + 16 * (p >> 1)); }, c);
    ct_layer<4>(r, 1, x4, [&](int p) { return lane_twiddle(tw + 48 + 16 * p); }, c);
    transpose4(r);
    transpose4(r + 4);
    ct_layer<4>(r, 2, x8, [&](int p) { return lane_twiddle(tw + 112 + 16 * (p >> 1)); }, c);  // span 2
    ct_layer<4>(r, 1, x4, [&](int p) { return lane_twiddle(tw + 144 + 16 * p); }, c);         // span 1
    tw += 13 * 16;
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) r[k] = reduce_once(reduce_once(r[k], c.two_q), c.q);
    transpose4(r);
    transpose4(r + 4);
    store_block(a, r);
  }
}

void gs_inner(std::uint32_t* a, std::size_t n, const std::uint32_t* tw, const Consts& c) {
  for (std::size_t b = 0; b < n; b += 64, a += 64) {
    __m256i r[8];
    load_block(a, r);
    transpose4(r);
    transpose4(r + 4);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k += 2, tw += 16) gs(r[k], r[k + 1], lane_twiddle(tw), c);  // span 1
#pragma GCC unroll 8
    for (int b4 = 0; b4 < 2; ++b4, tw += 16) {                                           // span 2
      const Twiddle t = lane_twiddle(tw);
      gs(r[4 * b4], r[4 * b4 + 2], t, c);
      gs(r[4 * b4 + 1], r[4 * b4 + 3], t, c);
    }
    transpose4(r);
    transpose4(r + 4);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k += 2, tw += 16) gs(r[k], r[k + 1], lane_twiddle(tw), c);  // span 4
#pragma GCC unroll 8
    for (int b4 = 0; b4 < 2; ++b4, tw += 16) {                                           // span 8
      const Twiddle t = lane_twiddle(tw);
      gs(r[4 * b4], r[4 * b4 + 2], t, c);
      gs(r[4 * b4 + 1], r[4 * b4 + 3], t, c);
    }
    {  // span 16
      const Twiddle t = lane_twiddle(tw);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) gs(r[k], r[k + 4], t, c);
      tw += 16;
    }
    store_block(a, r);
  }
}

// N = 16, 32: the reference algorithm on words.
template <bool Forward>
void ntt_small(std::uint32_t* a, const NttTables32& t) noexcept {
  const std::size_t n = t.n;
  const std::uint32_t q = t.q, two_q = 2 * q;
  auto mul = [q](std::uint32_t y, std::uint32_t w, std::uint32_t ws) {  // [0, 2q)
    const auto est = static_cast<std::uint32_t>((std::uint64_t{y} * ws) >> 32);
    return y * w - est * q;
  };
  if constexpr (Forward) {
    for (std::size_t m = 1, span = n >> 1; m < n; m <<= 1, span >>= 1)
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 2 * i * span; j < 2 * i * span + span; ++j) {
          std::uint32_t u = a[j];
          u = u >= two_q ? u - two_q : u;
          const std::uint32_t v = mul(a[j + span], t.roots[m + i], t.roots_shoup[m + i]);
          a[j] = u + v;
          a[j + span] = u + two_q - v;
        }
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t v = a[i] >= two_q ? a[i] - two_q : a[i];
      a[i] = v >= q ? v - q : v;
    }
  } else {
    for (std::size_t h = n >> 1, span = 1; h >= 1; h >>= 1, span <<= 1)
      for (std::size_t i = 0; i < h; ++i)
        for (std::size_t j = 2 * i * span; j < 2 * i * span + span; ++j) {
          const std::uint32_t u = a[j], v = a[j + span];
          const std::uint32_t s = u + v;
          a[j] = s >= two_q ? s - two_q : s;
          a[j + span] = mul(u + two_q - v, t.inv_roots[h + i], t.inv_roots_shoup[h + i]);
        }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t v = mul(a[i], t.inv_n, t.inv_n_shoup);
      a[i] = v >= q ? v - q : v;
    }
  }
}

}  // namespace

void ntt_forward_u32_avx2(std::uint32_t* a, const NttTables32& t) noexcept {
  const std::size_t n = t.n;
  if (n < 64) return ntt_small<true>(a, t);
  const Consts c{_mm256_set1_epi32(static_cast<int>(t.q)), _mm256_set1_epi32(static_cast<int>(2 * t.q))};
  // Outer layers: spans N/2 .. 32, three per pass while possible.
  std::size_t span = n >> 1;
  for (; span >= 128; span >>= 3) ct_pass<3>(a, n, span, t, c);
  if (span == 64) ct_pass<2>(a, n, span, t, c);
  if (span == 32) ct_pass<1>(a, n, span, t, c);
  ct_inner(a, n, t.lane_fwd.data(), c);
}

void ntt_inverse_u32_avx2(std::uint32_t* a, const NttTables32& t) noexcept {
  const std::size_t n = t.n;
  if (n < 64) return ntt_small<false>(a, t);
  const Consts c{_mm256_set1_epi32(static_cast<int>(t.q)), _mm256_set1_epi32(static_cast<int>(2 * t.q))};
  gs_inner(a, n, t.lane_inv.data(), c);
  // Outer layers: spans 32 .. N/2, three per pass, the remainder first.
  std::size_t span = 32;
  const int outer = __builtin_ctzll(n) - 5;  // layers left
  if (outer % 3 == 1) {
    if (outer == 1) gs_pass<1, true>(a, n, span, t, c);
    else gs_pass<1, false>(a, n, span, t, c);
    span <<= 1;
  } else if (outer % 3 == 2) {
    if (outer == 2) gs_pass<2, true>(a, n, span, t, c);
    else gs_pass<2, false>(a, n, span, t, c);
    span <<= 2;
  }
  for (; 8 * span < n; span <<= 3) gs_pass<3, false>(a, n, span, t, c);
  if (8 * span == n) gs_pass<3, true>(a, n, span, t, c);
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
