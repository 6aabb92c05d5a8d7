// AVX-512 (F/DQ/VL + IFMA) builds of the key-switch kernels; same contracts
// and outputs as the *_reference loops in keyswitch_kernels.cpp, which also
// handle the tails (n not a multiple of 8).
#include <immintrin.h>

#include <array>
#include <vector>

#include "math/modulus.h"
#include "keyswitch_kernels_simd.h"

namespace fhellm::math {
namespace {

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;

inline __m512i set1(std::uint64_t v) noexcept { return _mm512_set1_epi64(static_cast<long long>(v)); }
inline __m512i load(const std::uint64_t* p) noexcept { return _mm512_loadu_si512(p); }
inline void store(std::uint64_t* p, __m512i v) noexcept { _mm512_storeu_si512(p, v); }
// The maskz forms with a full mask are the same instructions; the unmasked
// intrinsics trip GCC 12's -Wmaybe-uninitialized (undefined pass-through).
inline __m512i mul_low32(__m512i x, __m512i y) noexcept { return _mm512_maskz_mul_epu32(0xFF, x, y); }
inline __m512i shr52(__m512i x) noexcept { return _mm512_maskz_srli_epi64(0xFF, x, 52); }

inline __m512i reduce_once(__m512i v, __m512i bound) noexcept {
  return _mm512_mask_sub_epi64(v, _mm512_cmpge_epu64_mask(v, bound), v, bound);
}

// x mod q in [0, 2q) for x < 2^52, m = floor(2^52 / q): the estimate
// floor(x m / 2^52) is floor(x / q) or one less.
inline __m512i reduce52_lazy(__m512i x, __m512i m, __m512i q) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i est = _mm512_madd52hi_epu64(zero, x, m);
  return _mm512_sub_epi64(x, _mm512_madd52lo_epu64(zero, est, q));
}

// y w mod q in [0, 2q) for y < 2^52, w < q < 2^50, ws = floor(w 2^52 / q).
inline __m512i mul_shoup52_lazy(__m512i y, __m512i w, __m512i ws, __m512i q) noexcept {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i est = _mm512_madd52hi_epu64(zero, y, ws);
  const __m512i prod = _mm512_madd52lo_epu64(zero, y, w);
  return _mm512_and_si512(_mm512_sub_epi64(prod, _mm512_madd52lo_epu64(zero, est, q)), set1(kMask52));
}

}  // namespace

void gadget_digit_lift_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src, std::uint64_t q_dst,
                              std::uint64_t* out, std::size_t n) noexcept {
  const __m512i half_q = set1(s.half_q), qs = set1(q_src), qd = set1(q_dst);
  const __m512i offset = set1(static_cast<std::uint64_t>(s.offset)), mask = set1(s.mask);
  const __m512i half = set1(static_cast<std::uint64_t>(s.half)), zero = _mm512_setzero_si512();
  const __m128i shift = _mm_cvtsi32_si128(s.shift);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i x = load(c + j);
    x = _mm512_mask_sub_epi64(x, _mm512_cmpgt_epu64_mask(x, half_q), x, qs);  // centred (signed)
    __m512i d = _mm512_maskz_sra_epi64(0xFF, _mm512_add_epi64(x, offset), shift);
    if (!s.top) d = _mm512_sub_epi64(_mm512_and_si512(d, mask), half);
    d = _mm512_mask_add_epi64(d, _mm512_cmplt_epi64_mask(d, zero), d, qd);
    store(out + j, d);
  }
  for (; j < n; ++j) {
    const std::int64_t x = c[j] > s.half_q ? static_cast<std::int64_t>(c[j] - q_src) : static_cast<std::int64_t>(c[j]);
    const std::int64_t v = (x + s.offset) >> s.shift;
    const std::int64_t d = s.top ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
    out[j] = static_cast<std::uint64_t>(d) + (d < 0 ? q_dst : 0);
  }
}

void multiply_accumulate_pair_u64_avx512(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                         std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n,
                                         bool assign) noexcept {
  std::size_t i = 0;
  if (assign) {
    for (; i + 8 <= n; i += 8) {
      const __m512i x = load(r + i);
      store(acc0 + i, mul_low32(x, load(b + i)));
      store(acc1 + i, mul_low32(x, load(a + i)));
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      const __m512i x = load(r + i);
      store(acc0 + i, _mm512_add_epi64(load(acc0 + i), mul_low32(x, load(b + i))));
      store(acc1 + i, _mm512_add_epi64(load(acc1 + i), mul_low32(x, load(a + i))));
    }
  }
  for (; i < n; ++i) {
    const std::uint64_t x = static_cast<std::uint32_t>(r[i]);
    const std::uint64_t p0 = x * static_cast<std::uint32_t>(b[i]);
    const std::uint64_t p1 = x * static_cast<std::uint32_t>(a[i]);
    acc0[i] = assign ? p0 : acc0[i] + p0;
    acc1[i] = assign ? p1 : acc1[i] + p1;
  }
}

void multiply_accumulate_pair_split52_avx512(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                             std::uint64_t* acc0_lo, std::uint64_t* acc0_hi,
                                             std::uint64_t* acc1_lo, std::uint64_t* acc1_hi, std::size_t n,
                                             bool assign) noexcept {
  std::size_t i = 0;
  const __m512i zero = _mm512_setzero_si512();
  for (; i + 8 <= n; i += 8) {
    const __m512i x = load(r + i), y0 = load(b + i), y1 = load(a + i);
    const __m512i l0 = assign ? zero : load(acc0_lo + i), h0 = assign ? zero : load(acc0_hi + i);
    const __m512i l1 = assign ? zero : load(acc1_lo + i), h1 = assign ? zero : load(acc1_hi + i);
    store(acc0_lo + i, _mm512_madd52lo_epu64(l0, x, y0));
    store(acc0_hi + i, _mm512_madd52hi_epu64(h0, x, y0));
    store(acc1_lo + i, _mm512_madd52lo_epu64(l1, x, y1));
    store(acc1_hi + i, _mm512_madd52hi_epu64(h1, x, y1));
  }
  for (; i < n; ++i) {
    const u128 p0 = static_cast<u128>(r[i]) * b[i];
    const u128 p1 = static_cast<u128>(r[i]) * a[i];
    const std::uint64_t lo0 = static_cast<std::uint64_t>(p0) & kMask52, hi0 = static_cast<std::uint64_t>(p0 >> 52);
    const std::uint64_t lo1 = static_cast<std::uint64_t>(p1) & kMask52, hi1 = static_cast<std::uint64_t>(p1 >> 52);
    acc0_lo[i] = assign ? lo0 : acc0_lo[i] + lo0;
    acc0_hi[i] = assign ? hi0 : acc0_hi[i] + hi0;
    acc1_lo[i] = assign ? lo1 : acc1_lo[i] + lo1;
    acc1_hi[i] = assign ? hi1 : acc1_hi[i] + hi1;
  }
}

namespace {

// x mod q for any 64-bit lanes, q < 2^32 (constants from ReduceSmall).
struct ReduceSmall {
  explicit ReduceSmall(std::uint64_t q)
      : qv(set1(q)), mv(set1((std::uint64_t{1} << 52) / q)), r52v(set1((std::uint64_t{1} << 52) % q)) {}
  __m512i operator()(__m512i x) const noexcept {
    // x = hi 2^52 + lo (hi < 2^12): lo mod q in [0, 2q), plus hi (2^52 mod q)
    // < 2^44, then once more: both steps are 52-bit Shoup-style reductions.
    const __m512i lo = _mm512_and_si512(x, set1(kMask52)), hi = shr52(x);
    const __m512i v = _mm512_madd52lo_epu64(reduce52_lazy(lo, mv, qv), hi, r52v);
    return reduce_once(reduce52_lazy(v, mv, qv), qv);
  }
  __m512i qv, mv, r52v;
};

// (hi 2^52 + lo) mod q for hi < 2^52, any 64-bit lo, q < 2^50.
struct ReduceSplit52 {
  explicit ReduceSplit52(std::uint64_t q)
      : qv(set1(q)), two_q(set1(2 * q)), mv(set1((std::uint64_t{1} << 52) / q)),
        r52v(set1((std::uint64_t{1} << 52) % q)),
        r52s(set1(static_cast<std::uint64_t>((static_cast<u128>((std::uint64_t{1} << 52) % q) << 52) / q))) {}
  __m512i operator()(__m512i hi, __m512i lo) const noexcept {
    // value = (hi mod q + lo >> 52) 2^52 + (lo mod 2^52): s < 2^52 times
    // 2^52 mod q by Shoup, plus the low part reduced: < 4q in total.
    const __m512i mask = set1(kMask52);
    const __m512i s = _mm512_add_epi64(reduce52_lazy(hi, mv, qv), shr52(lo));
    const __m512i t = _mm512_add_epi64(mul_shoup52_lazy(s, r52v, r52s, qv),
                                       reduce52_lazy(_mm512_and_si512(lo, mask), mv, qv));
    return reduce_once(reduce_once(t, two_q), qv);
  }
  __m512i qv, two_q, mv, r52v, r52s;
};

// Digits stored in 64-bit or (32-bit pipeline) 32-bit words, widened on load.
inline __m512i load_digits(const std::uint64_t* p) noexcept { return load(p); }
inline __m512i load_digits(const std::uint32_t* p) noexcept {
  return _mm512_maskz_cvtepu32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

template <class Digit>
void dot_pair_reduce_small(const Digit* const* r, const std::uint64_t* const* b, const std::uint64_t* const* a,
                           std::size_t count, std::uint64_t* out0, std::uint64_t* out1, std::size_t n,
                           std::uint64_t q) noexcept {
  const ReduceSmall reduce(q);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (std::size_t d = 0; d < count; ++d) {
      const __m512i x = load_digits(r[d] + j);
      s0 = _mm512_add_epi64(s0, mul_low32(x, load(b[d] + j)));
      s1 = _mm512_add_epi64(s1, mul_low32(x, load(a[d] + j)));
    }
    store(out0 + j, reduce(s0));
    store(out1 + j, reduce(s1));
  }
  for (; j < n; ++j) {
    std::uint64_t s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += std::uint64_t{r[d][j]} * b[d][j];
      s1 += std::uint64_t{r[d][j]} * a[d][j];
    }
    out0[j] = s0 % q;
    out1[j] = s1 % q;
  }
}

}  // namespace

void dot_pair_reduce_u64_avx512(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  dot_pair_reduce_small(r, b, a, count, out0, out1, n, q);
}

void dot_pair_reduce_u64_r32_avx512(const std::uint32_t* const* r, const std::uint64_t* const* b,
                                    const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                    std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  dot_pair_reduce_small(r, b, a, count, out0, out1, n, q);
}

namespace {

// The 64-bit sums over `count` digits of r[d] b[d] and r[d] a[d] at slots j
// .. j + 15: vpmuludq on the even 32-bit lanes (e) and, shifted, on the odd
// ones (o). dot_pair_reduce_u32 and dot_pair_blocked_u32 share it.
struct PairSums {
  __m512i e0, o0, e1, o1;
};
inline PairSums pair_sums(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                          std::size_t count, std::size_t j) noexcept {
  PairSums s{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (std::size_t d = 0; d < count; ++d) {
    const __m512i x = _mm512_loadu_si512(r[d] + j), y0 = _mm512_loadu_si512(b[d] + j),
                  y1 = _mm512_loadu_si512(a[d] + j);
    const __m512i xo = _mm512_srli_epi64(x, 32);
    s.e0 = _mm512_add_epi64(s.e0, mul_low32(x, y0));
    s.o0 = _mm512_add_epi64(s.o0, mul_low32(xo, _mm512_srli_epi64(y0, 32)));
    s.e1 = _mm512_add_epi64(s.e1, mul_low32(x, y1));
    s.o1 = _mm512_add_epi64(s.o1, mul_low32(xo, _mm512_srli_epi64(y1, 32)));
  }
  return s;
}

}  // namespace

void dot_pair_reduce_u32_avx512(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                const std::uint32_t* const* a, std::size_t count, std::uint64_t* out0,
                                std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  // Sixteen slots per step: vpmuludq on the even 32-bit lanes and, shifted,
  // on the odd ones; the sums go back to slot order after the reduction.
  const ReduceSmall reduce(q);
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  auto store_slots = [&](std::uint64_t* out, __m512i even, __m512i odd) {
    const __m512i lo = _mm512_unpacklo_epi64(even, odd), hi = _mm512_unpackhi_epi64(even, odd);
    store(out, _mm512_permutex2var_epi64(lo, first, hi));
    store(out + 8, _mm512_permutex2var_epi64(lo, second, hi));
  };
  std::size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const PairSums sums = pair_sums(r, b, a, count, j);
    const __m512i e0 = sums.e0, o0 = sums.o0, e1 = sums.e1, o1 = sums.o1;
    store_slots(out0 + j, reduce(e0), reduce(o0));
    store_slots(out1 + j, reduce(e1), reduce(o1));
  }
  for (; j < n; ++j) {
    std::uint64_t s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += std::uint64_t{r[d][j]} * b[d][j];
      s1 += std::uint64_t{r[d][j]} * a[d][j];
    }
    out0[j] = s0 % q;
    out1[j] = s1 % q;
  }
}

void dot_pair_blocked_u32_avx512(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                 const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                                 std::size_t j0, std::size_t n, const BlockedDestination& dst,
                                 std::uint64_t q) noexcept {
  // dot_pair_reduce_u32's sums of one slot block, then, with the odd sums
  // shifted up, the 64-bit lanes hold the 32-bit words in slot order: the
  // addition, one permutation into the output block and full-line stores.
  const ReduceSmall reduce(q);
  const __m512i q32 = _mm512_set1_epi32(static_cast<int>(q));
  const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const __m512i low4 = _mm512_set1_epi32(kSlotBlock - 1);
  for (std::size_t j = 0; j < n; j += kSlotBlock) {
    const PairSums sums = pair_sums(r, b, a, count, j);
    const __m512i e0 = sums.e0, o0 = sums.o0, e1 = sums.e1, o1 = sums.o1;
    __m512i v0 = _mm512_or_si512(reduce(e0), _mm512_slli_epi64(reduce(o0), 32));
    const __m512i v1 = _mm512_or_si512(reduce(e1), _mm512_slli_epi64(reduce(o1), 32));
    v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(add + j));
    v0 = _mm512_min_epu32(v0, _mm512_sub_epi32(v0, q32));  // < 2q < 2^31: one subtraction
    const std::size_t block = dst.dest_block[(j0 + j) / kSlotBlock];
    const __m512i p = _mm512_loadu_si512(dst.perm + block * kSlotBlock);
    const __m512i index = _mm512_and_si512(_mm512_permutexvar_epi32(order, p), low4);
    _mm512_storeu_si512(dst.c0 + block * dst.stride, _mm512_permutexvar_epi32(index, v0));
    _mm512_storeu_si512(dst.c1 + block * dst.stride, _mm512_permutexvar_epi32(index, v1));
  }
}

void dot_pair_reduce_split52_avx512(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                    const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                    std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  const ReduceSplit52 reduce(q);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i l0 = _mm512_setzero_si512(), h0 = l0, l1 = l0, h1 = l0;
    for (std::size_t d = 0; d < count; ++d) {
      const __m512i x = load(r[d] + j), y0 = load(b[d] + j), y1 = load(a[d] + j);
      l0 = _mm512_madd52lo_epu64(l0, x, y0);
      h0 = _mm512_madd52hi_epu64(h0, x, y0);
      l1 = _mm512_madd52lo_epu64(l1, x, y1);
      h1 = _mm512_madd52hi_epu64(h1, x, y1);
    }
    store(out0 + j, reduce(h0, l0));
    store(out1 + j, reduce(h1, l1));
  }
  for (; j < n; ++j) {
    u128 s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += static_cast<u128>(r[d][j]) * b[d][j];
      s1 += static_cast<u128>(r[d][j]) * a[d][j];
    }
    out0[j] = static_cast<std::uint64_t>(s0 % q);
    out1[j] = static_cast<std::uint64_t>(s1 % q);
  }
}

void reduce_u64_small_avx512(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, std::uint64_t q) noexcept {
  // acc = hi 2^52 + lo (hi < 2^12): lo mod q in [0, 2q), plus hi (2^52 mod q)
  // < 2^44, then once more: both steps are 52-bit Shoup-style reductions.
  const std::uint64_t m = (std::uint64_t{1} << 52) / q;
  const std::uint64_t r52 = (std::uint64_t{1} << 52) % q;
  const __m512i qv = set1(q), mv = set1(m), r52v = set1(r52), mask = set1(kMask52);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i x = load(acc + i);
    const __m512i lo = _mm512_and_si512(x, mask), hi = shr52(x);
    const __m512i v = _mm512_madd52lo_epu64(reduce52_lazy(lo, mv, qv), hi, r52v);
    store(out + i, reduce_once(reduce52_lazy(v, mv, qv), qv));
  }
  for (; i < n; ++i) {
    const u128 x = acc[i];
    out[i] = static_cast<std::uint64_t>(x % q);
  }
}

std::size_t reduce_split52_avx512(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                                  std::size_t n, std::uint64_t q) noexcept {
  // value = hi 2^52 + lo = (hi mod q + lo >> 52) 2^52 + (lo mod 2^52):
  // s = hi mod q (lazy) + lo >> 52 < 2^52 times 2^52 mod q by Shoup, plus the
  // low part reduced: < 4q in total.
  const std::uint64_t m = (std::uint64_t{1} << 52) / q;
  const std::uint64_t r52 = (std::uint64_t{1} << 52) % q;
  const std::uint64_t r52_shoup = static_cast<std::uint64_t>((static_cast<u128>(r52) << 52) / q);
  const __m512i qv = set1(q), two_q = set1(2 * q), mv = set1(m), mask = set1(kMask52);
  const __m512i r52v = set1(r52), r52s = set1(r52_shoup);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i hi = load(acc_hi + i), lo = load(acc_lo + i);
    if (_mm512_cmpgt_epu64_mask(hi, mask) != 0) return i;
    const __m512i s = _mm512_add_epi64(reduce52_lazy(hi, mv, qv), shr52(lo));
    const __m512i t = _mm512_add_epi64(mul_shoup52_lazy(s, r52v, r52s, qv),
                                       reduce52_lazy(_mm512_and_si512(lo, mask), mv, qv));
    store(out + i, reduce_once(reduce_once(t, two_q), qv));
  }
  for (; i < n; ++i) {
    if (acc_hi[i] > kMask52) return i;
    const u128 x = (static_cast<u128>(acc_hi[i]) << 52) + acc_lo[i];
    out[i] = static_cast<std::uint64_t>(x % q);
  }
  return n;
}

namespace {

// 32-bit lanes (16 per vector) for the forward NTT with q < 2^30: values stay
// below 4q < 2^32; Shoup products with w' = floor(w 2^32 / q).
inline __m512i shr32x64(__m512i x) noexcept { return _mm512_maskz_srli_epi64(0xFF, x, 32); }
inline __m512i min32(__m512i x, __m512i y) noexcept { return _mm512_maskz_min_epu32(0xFFFF, x, y); }

// High halves of the 32x32 products y * ws, lane by lane; ws_odd holds the
// odd lanes' constants in the even positions (ws >> 32 per 64-bit lane).
inline __m512i mulhi32(__m512i y, __m512i ws, __m512i ws_odd) noexcept {
  const __m512i even = _mm512_maskz_mul_epu32(0xFF, y, ws);
  const __m512i odd = _mm512_maskz_mul_epu32(0xFF, shr32x64(y), ws_odd);
  // High words: lane 2i from even's word 2i+1, lane 2i+1 from odd's word 2i+1.
  const __m512i pick = _mm512_set_epi32(31, 15, 29, 13, 27, 11, 25, 9, 23, 7, 21, 5, 19, 3, 17, 1);
  return _mm512_permutex2var_epi32(even, pick, odd);
}

// Forward butterfly on x, y in [0, 4q).
inline void butterfly32(__m512i& x, __m512i& y, __m512i w, __m512i ws, __m512i ws_odd, __m512i q,
                        __m512i two_q) noexcept {
  const __m512i u = min32(x, _mm512_sub_epi32(x, two_q));  // x >= 2q ? x - 2q : x
  const __m512i est = mulhi32(y, ws, ws_odd);
  const __m512i v = _mm512_sub_epi32(_mm512_mullo_epi32(y, w), _mm512_mullo_epi32(est, q));  // [0, 2q)
  x = _mm512_add_epi32(u, v);
  y = _mm512_sub_epi32(_mm512_add_epi32(u, two_q), v);
}

// Lane maps for spans t in {1, 2, 4, 8} over 32 consecutive values (a: 0..15,
// b: 16..31), as SmallSpan in ntt_avx512.cpp.
struct Span32 {
  __m512i gather_x, gather_y, scatter_a, scatter_b, root_spread;
};

Span32 make_span32(std::size_t t) {
  std::array<int, 16> gx{}, gy{}, sa{}, sb{}, rs{};
  for (std::size_t l = 0; l < 16; ++l) {
    const std::size_t block = l / t, off = l % t;
    gx[l] = static_cast<int>(block * 2 * t + off);
    gy[l] = static_cast<int>(block * 2 * t + t + off);
    rs[l] = static_cast<int>(block);
  }
  for (std::size_t p = 0; p < 32; ++p) {
    const std::size_t block = p / (2 * t), off = p % (2 * t);
    const int src = off < t ? static_cast<int>(block * t + off) : static_cast<int>(16 + block * t + off - t);
    (p < 16 ? sa[p] : sb[p - 16]) = src;
  }
  auto ld = [](const std::array<int, 16>& v) { return _mm512_loadu_si512(v.data()); };
  return {ld(gx), ld(gy), ld(sa), ld(sb), ld(rs)};
}

const Span32& span32(std::size_t t) {
  static const Span32 s1 = make_span32(1), s2 = make_span32(2), s4 = make_span32(4), s8 = make_span32(8);
  return t == 1 ? s1 : t == 2 ? s2 : t == 4 ? s4 : s8;
}

}  // namespace

void ntt_forward_u32_avx512(std::uint32_t* a, const NttTables32& tables) noexcept {
  const std::size_t n = tables.n;
  const std::uint32_t* wv = tables.roots.data();
  const std::uint32_t* ws = tables.roots_shoup.data();
  const __m512i q = _mm512_set1_epi32(static_cast<int>(tables.q));
  const __m512i two_q = _mm512_set1_epi32(static_cast<int>(2 * tables.q));
  std::size_t m = 1, t = n >> 1;
  for (; t >= 16; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const __m512i w = _mm512_set1_epi32(static_cast<int>(wv[m + i]));
      const __m512i wsh = _mm512_set1_epi32(static_cast<int>(ws[m + i]));
      std::uint32_t* x = a + 2 * i * t;
      std::uint32_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 16) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        butterfly32(xv, yv, w, wsh, wsh, q, two_q);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
  }
  // Spans 8, 4, 2, 1 and the final reduction, 32 values at a time (lane maps
  // copied out of their statics once, the four layers unrolled).
  const Span32 sp8 = span32(8), sp4 = span32(4), sp2 = span32(2), sp1 = span32(1);
  auto layer = [&](const Span32& sp, std::size_t s, std::size_t start, __m512i& va, __m512i& vb) {
    const std::size_t root0 = n / (2 * s) + start / (2 * s);
    const __mmask16 live = static_cast<__mmask16>((1u << (16 / s)) - 1);
    const __m512i w = _mm512_maskz_permutexvar_epi32(0xFFFF, sp.root_spread, _mm512_maskz_loadu_epi32(live, wv + root0));
    const __m512i wsh =
        _mm512_maskz_permutexvar_epi32(0xFFFF, sp.root_spread, _mm512_maskz_loadu_epi32(live, ws + root0));
    __m512i xv = _mm512_permutex2var_epi32(va, sp.gather_x, vb);
    __m512i yv = _mm512_permutex2var_epi32(va, sp.gather_y, vb);
    butterfly32(xv, yv, w, wsh, shr32x64(wsh), q, two_q);
    va = _mm512_permutex2var_epi32(xv, sp.scatter_a, yv);
    vb = _mm512_permutex2var_epi32(xv, sp.scatter_b, yv);
  };
  for (std::size_t start = 0; start < n; start += 32) {
    __m512i va = _mm512_loadu_si512(a + start), vb = _mm512_loadu_si512(a + start + 16);
    layer(sp8, 8, start, va, vb);
    layer(sp4, 4, start, va, vb);
    layer(sp2, 2, start, va, vb);
    layer(sp1, 1, start, va, vb);
    va = min32(va, _mm512_sub_epi32(va, two_q));
    vb = min32(vb, _mm512_sub_epi32(vb, two_q));
    _mm512_storeu_si512(a + start, min32(va, _mm512_sub_epi32(va, q)));
    _mm512_storeu_si512(a + start + 16, min32(vb, _mm512_sub_epi32(vb, q)));
  }
}

namespace {

// Inverse (Gentleman-Sande) butterfly on x, y in [0, 2q).
inline void inverse_butterfly32(__m512i& x, __m512i& y, __m512i w, __m512i ws, __m512i ws_odd, __m512i q,
                                __m512i two_q) noexcept {
  const __m512i s = _mm512_add_epi32(x, y);
  const __m512i d = _mm512_sub_epi32(_mm512_add_epi32(x, two_q), y);
  x = min32(s, _mm512_sub_epi32(s, two_q));
  const __m512i est = mulhi32(d, ws, ws_odd);
  y = _mm512_sub_epi32(_mm512_mullo_epi32(d, w), _mm512_mullo_epi32(est, q));
}

}  // namespace

void ntt_inverse_via32_avx512(std::uint64_t* a64, const NttTables32& tables) noexcept {
  const std::size_t n = tables.n;
  thread_local std::vector<std::uint32_t> buffer;
  buffer.resize(n);
  std::uint32_t* a = buffer.data();
  const std::uint32_t* wv = tables.inv_roots.data();
  const std::uint32_t* ws = tables.inv_roots_shoup.data();
  const __m512i q = _mm512_set1_epi32(static_cast<int>(tables.q));
  const __m512i two_q = _mm512_set1_epi32(static_cast<int>(2 * tables.q));
  const __m512i inv_n = _mm512_set1_epi32(static_cast<int>(tables.inv_n));
  const __m512i inv_n_sh = _mm512_set1_epi32(static_cast<int>(tables.inv_n_shoup));
  // Low dwords of two vectors of 64-bit words (values < 2^32), in order.
  const __m512i narrow = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const Span32 sp1 = span32(1), sp2 = span32(2), sp4 = span32(4), sp8 = span32(8);
  auto layer = [&](const Span32& sp, std::size_t s, std::size_t start, __m512i& va, __m512i& vb) {
    const std::size_t root0 = n / (2 * s) + start / (2 * s);
    const __mmask16 live = static_cast<__mmask16>((1u << (16 / s)) - 1);
    const __m512i w = _mm512_maskz_permutexvar_epi32(0xFFFF, sp.root_spread, _mm512_maskz_loadu_epi32(live, wv + root0));
    const __m512i wsh =
        _mm512_maskz_permutexvar_epi32(0xFFFF, sp.root_spread, _mm512_maskz_loadu_epi32(live, ws + root0));
    __m512i xv = _mm512_permutex2var_epi32(va, sp.gather_x, vb);
    __m512i yv = _mm512_permutex2var_epi32(va, sp.gather_y, vb);
    inverse_butterfly32(xv, yv, w, wsh, shr32x64(wsh), q, two_q);
    va = _mm512_permutex2var_epi32(xv, sp.scatter_a, yv);
    vb = _mm512_permutex2var_epi32(xv, sp.scatter_b, yv);
  };
  // Spans 1, 2, 4, 8, reading the 64-bit words.
  for (std::size_t start = 0; start < n; start += 32) {
    __m512i va = _mm512_permutex2var_epi32(load(a64 + start), narrow, load(a64 + start + 8));
    __m512i vb = _mm512_permutex2var_epi32(load(a64 + start + 16), narrow, load(a64 + start + 24));
    layer(sp1, 1, start, va, vb);
    layer(sp2, 2, start, va, vb);
    layer(sp4, 4, start, va, vb);
    layer(sp8, 8, start, va, vb);
    _mm512_storeu_si512(a + start, va);
    _mm512_storeu_si512(a + start + 16, vb);
  }
  // Spans >= 16; the last layer scales by N^-1 and writes 64-bit words.
  auto widen_store = [&](std::uint64_t* dst, __m512i v) {
    const __m512i lo_idx = _mm512_set_epi32(0, 7, 0, 6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i hi_idx = _mm512_set_epi32(0, 15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8);
    store(dst, _mm512_maskz_permutexvar_epi32(0x5555, lo_idx, v));
    store(dst + 8, _mm512_maskz_permutexvar_epi32(0x5555, hi_idx, v));
  };
  for (std::size_t t = 16, m = n / 16; m > 1; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    const bool last = h == 1;
    for (std::size_t i = 0; i < h; ++i) {
      const __m512i w = _mm512_set1_epi32(static_cast<int>(wv[h + i]));
      const __m512i wsh = _mm512_set1_epi32(static_cast<int>(ws[h + i]));
      std::uint32_t* x = a + 2 * i * t;
      std::uint32_t* y = x + t;
      for (std::size_t j = 0; j < t; j += 16) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        inverse_butterfly32(xv, yv, w, wsh, wsh, q, two_q);
        if (last) {
          // x N^-1 in [0, 2q), then [0, q).
          xv = _mm512_sub_epi32(_mm512_mullo_epi32(xv, inv_n),
                                _mm512_mullo_epi32(mulhi32(xv, inv_n_sh, inv_n_sh), q));
          yv = _mm512_sub_epi32(_mm512_mullo_epi32(yv, inv_n),
                                _mm512_mullo_epi32(mulhi32(yv, inv_n_sh, inv_n_sh), q));
          widen_store(a64 + 2 * i * t + j, min32(xv, _mm512_sub_epi32(xv, q)));
          widen_store(a64 + 2 * i * t + t + j, min32(yv, _mm512_sub_epi32(yv, q)));
        } else {
          _mm512_storeu_si512(x + j, xv);
          _mm512_storeu_si512(y + j, yv);
        }
      }
    }
  }
}

void gadget_digit_lift_u32_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                  std::uint64_t q_dst, std::uint32_t* out, std::size_t n) noexcept {
  const __m512i half_q = set1(s.half_q), qs = set1(q_src), qd = set1(q_dst);
  const __m512i offset = set1(static_cast<std::uint64_t>(s.offset)), mask = set1(s.mask);
  const __m512i half = set1(static_cast<std::uint64_t>(s.half)), zero = _mm512_setzero_si512();
  const __m128i shift = _mm_cvtsi32_si128(s.shift);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i x = load(c + j);
    x = _mm512_mask_sub_epi64(x, _mm512_cmpgt_epu64_mask(x, half_q), x, qs);
    __m512i d = _mm512_maskz_sra_epi64(0xFF, _mm512_add_epi64(x, offset), shift);
    if (!s.top) d = _mm512_sub_epi64(_mm512_and_si512(d, mask), half);
    d = _mm512_mask_add_epi64(d, _mm512_cmplt_epi64_mask(d, zero), d, qd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm512_maskz_cvtepi64_epi32(0xFF, d));
  }
  for (; j < n; ++j) {
    const std::int64_t x = c[j] > s.half_q ? static_cast<std::int64_t>(c[j] - q_src) : static_cast<std::int64_t>(c[j]);
    const std::int64_t v = (x + s.offset) >> s.shift;
    const std::int64_t d = s.top ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
    out[j] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d) + (d < 0 ? q_dst : 0));
  }
}

void gadget_digit_lift_u32x2_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                    const std::uint64_t* q_dst, std::uint32_t* const* out, std::size_t n) noexcept {
  const __m512i half_q = set1(s.half_q), qs = set1(q_src), qd0 = set1(q_dst[0]), qd1 = set1(q_dst[1]);
  const __m512i offset = set1(static_cast<std::uint64_t>(s.offset)), mask = set1(s.mask);
  const __m512i half = set1(static_cast<std::uint64_t>(s.half)), zero = _mm512_setzero_si512();
  const __m128i shift = _mm_cvtsi32_si128(s.shift);
  std::uint32_t* out0 = out[0];
  std::uint32_t* out1 = out[1];
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i x = load(c + j);
    x = _mm512_mask_sub_epi64(x, _mm512_cmpgt_epu64_mask(x, half_q), x, qs);
    __m512i d = _mm512_maskz_sra_epi64(0xFF, _mm512_add_epi64(x, offset), shift);
    if (!s.top) d = _mm512_sub_epi64(_mm512_and_si512(d, mask), half);
    const __mmask8 neg = _mm512_cmplt_epi64_mask(d, zero);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out0 + j),
                        _mm512_maskz_cvtepi64_epi32(0xFF, _mm512_mask_add_epi64(d, neg, d, qd0)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out1 + j),
                        _mm512_maskz_cvtepi64_epi32(0xFF, _mm512_mask_add_epi64(d, neg, d, qd1)));
  }
  for (; j < n; ++j) {
    const std::int64_t x = c[j] > s.half_q ? static_cast<std::int64_t>(c[j] - q_src) : static_cast<std::int64_t>(c[j]);
    const std::int64_t v = (x + s.offset) >> s.shift;
    const std::int64_t d = s.top ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
    out0[j] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d) + (d < 0 ? q_dst[0] : 0));
    out1[j] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d) + (d < 0 ? q_dst[1] : 0));
  }
}


void permute_slot_blocks_avx512(const std::uint64_t* src, const std::uint32_t* perm, const std::uint64_t* add,
                                std::uint64_t* dst, std::size_t n, std::uint64_t q) noexcept {
  const __m512i low4 = _mm512_set1_epi32(15), qv = _mm512_set1_epi64(static_cast<long long>(q));
  for (std::size_t b = 0; b < n; b += 16) {
    const std::uint64_t* block = src + (perm[b] & ~std::uint32_t{15});
    const __m512i lo = _mm512_loadu_si512(block), hi = _mm512_loadu_si512(block + 8);
    const __m512i p = _mm512_and_si512(_mm512_loadu_si512(perm + b), low4);
    // Bit 3 of an index picks hi: the block's 16 slots as one 16-entry table.
    __m512i out[2] = {_mm512_permutex2var_epi64(lo, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(p)), hi),
                      _mm512_permutex2var_epi64(lo, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(p, 1)), hi)};
    for (int h = 0; h < 2; ++h) {
      if (add != nullptr) {
        const __m512i s = _mm512_add_epi64(out[h], _mm512_loadu_si512(add + b + 8 * h));
        out[h] = _mm512_min_epu64(s, _mm512_sub_epi64(s, qv));
      }
      _mm512_storeu_si512(dst + b + 8 * h, out[h]);
    }
  }
}

void gadget_top_digit_ntt_u32_avx512(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                     std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                     std::uint32_t q) noexcept {
  const __m512i qv = _mm512_set1_epi64(q), iv = _mm512_set1_epi64(inv), is = _mm512_set1_epi64(inv_shoup);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i d0 = _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d0_ntt + j)));
    const __m512i x = _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(c_ntt + j), qv), d0);
    const __m512i h = _mm512_srli_epi64(_mm512_mul_epu32(x, is), 32);
    const __m512i r = _mm512_sub_epi64(_mm512_mul_epu32(x, iv), _mm512_mul_epu32(h, qv));  // [0, 2q)
    const __m512i reduced = _mm512_min_epu64(r, _mm512_sub_epi64(r, qv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm512_cvtepi64_epi32(reduced));
  }
  gadget_top_digit_ntt_u32_reference(c_ntt + j, d0_ntt + j, inv, out + j, n - j, q);
}

}  // namespace fhellm::math
