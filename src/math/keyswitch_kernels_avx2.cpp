// AVX2 builds of the 32-bit key-switch kernels (see keyswitch_kernels.h),
// for CPUs without AVX-512: digits on 32-bit lanes, products with vpmuludq
// into 64-bit accumulators, reduction by Reduce64 (simd_avx2.h).
#include "keyswitch_kernels_simd.h"
#include "ntt32_simd.h"
#include "simd_avx2.h"

namespace fhellm::math {

using namespace avx2;

namespace {

// The slots j0..n-1 that a vector step does not cover.
template <class KeyWord>
void dot_pair_tail(const std::uint32_t* const* r, const KeyWord* const* b, const KeyWord* const* a, std::size_t count,
                   std::uint64_t* out0, std::uint64_t* out1, std::size_t j0, std::size_t n, std::uint64_t q) noexcept {
  for (std::size_t j = j0; j < n; ++j) {
    std::uint64_t s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += std::uint64_t{r[d][j]} * b[d][j];
      s1 += std::uint64_t{r[d][j]} * a[d][j];
    }
    out0[j] = s0 % q;
    out1[j] = s1 % q;
  }
}

// The 64-bit sums over `count` digits of r[d] b[d] and r[d] a[d] at slots j
// .. j + 7: vpmuludq on the even 32-bit lanes (e) and, shifted, on the odd
// ones (o). dot_pair_reduce_u32 and dot_pair_blocked_u32 share it.
struct PairSums {
  __m256i e0, o0, e1, o1;
};
inline PairSums pair_sums(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                          std::size_t count, std::size_t j) noexcept {
  PairSums s{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (std::size_t d = 0; d < count; ++d) {
    const __m256i x = load(r[d] + j), y0 = load(b[d] + j), y1 = load(a[d] + j);
    const __m256i xo = _mm256_srli_epi64(x, 32);
    s.e0 = _mm256_add_epi64(s.e0, _mm256_mul_epu32(x, y0));
    s.o0 = _mm256_add_epi64(s.o0, _mm256_mul_epu32(xo, _mm256_srli_epi64(y0, 32)));
    s.e1 = _mm256_add_epi64(s.e1, _mm256_mul_epu32(x, y1));
    s.o1 = _mm256_add_epi64(s.o1, _mm256_mul_epu32(xo, _mm256_srli_epi64(y1, 32)));
  }
  return s;
}

}  // namespace

void gadget_digit_lift_u32x2_avx2(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                  const std::uint64_t* q_dst, std::uint32_t* const* out, std::size_t n) noexcept {
  // q_src < 2^30: the centred residue plus the offset H (< 2^(w (L-1)) < q_src)
  // stays below 2^31, so everything runs on signed 32-bit lanes.
  const __m256i half_q = _mm256_set1_epi32(static_cast<int>(s.half_q));
  const __m256i qs = _mm256_set1_epi32(static_cast<int>(q_src));
  const __m256i qd0 = _mm256_set1_epi32(static_cast<int>(q_dst[0]));
  const __m256i qd1 = _mm256_set1_epi32(static_cast<int>(q_dst[1]));
  const __m256i offset = _mm256_set1_epi32(static_cast<int>(s.offset));
  const __m256i mask = _mm256_set1_epi32(static_cast<int>(s.mask));
  const __m256i half = _mm256_set1_epi32(static_cast<int>(s.half));
  const __m128i shift = _mm_cvtsi32_si128(s.shift);
  const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i lo = _mm256_permutevar8x32_epi32(load(c + j), pick);
    const __m256i hi = _mm256_permutevar8x32_epi32(load(c + j + 4), pick);
    __m256i x = _mm256_permute2x128_si256(lo, hi, 0x20);
    x = _mm256_sub_epi32(x, _mm256_and_si256(_mm256_cmpgt_epi32(x, half_q), qs));
    __m256i d = _mm256_sra_epi32(_mm256_add_epi32(x, offset), shift);
    if (!s.top) d = _mm256_sub_epi32(_mm256_and_si256(d, mask), half);
    const __m256i neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), d);
    store(out[0] + j, _mm256_add_epi32(d, _mm256_and_si256(neg, qd0)));
    store(out[1] + j, _mm256_add_epi32(d, _mm256_and_si256(neg, qd1)));
  }
  for (; j < n; ++j) {
    const std::int64_t x = c[j] > s.half_q ? static_cast<std::int64_t>(c[j] - q_src) : static_cast<std::int64_t>(c[j]);
    const std::int64_t v = (x + s.offset) >> s.shift;
    const std::int64_t d = s.top ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
    out[0][j] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d) + (d < 0 ? q_dst[0] : 0));
    out[1][j] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d) + (d < 0 ? q_dst[1] : 0));
  }
}

void dot_pair_reduce_u64_r32_avx2(const std::uint32_t* const* r, const std::uint64_t* const* b,
                                  const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                  std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  const Reduce64 reduce(q);
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    for (std::size_t d = 0; d < count; ++d) {
      const __m256i x = load_u32x4(r[d] + j);
      s0 = _mm256_add_epi64(s0, _mm256_mul_epu32(x, load(b[d] + j)));
      s1 = _mm256_add_epi64(s1, _mm256_mul_epu32(x, load(a[d] + j)));
    }
    store(out0 + j, reduce(s0));
    store(out1 + j, reduce(s1));
  }
  dot_pair_tail(r, b, a, count, out0, out1, j, n, q);
}

void dot_pair_reduce_u32_avx2(const std::uint32_t* const* r, const std::uint32_t* const* b,
                              const std::uint32_t* const* a, std::size_t count, std::uint64_t* out0,
                              std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept {
  // Eight slots per step: vpmuludq on the even 32-bit lanes and, shifted, on
  // the odd ones; the sums are put back in slot order after the reduction.
  const Reduce64 reduce(q);
  auto interleave_store = [](std::uint64_t* out, __m256i even, __m256i odd) {
    const __m256i lo = _mm256_unpacklo_epi64(even, odd);  // slots 0, 1, 4, 5
    const __m256i hi = _mm256_unpackhi_epi64(even, odd);  // slots 2, 3, 6, 7
    store(out, _mm256_permute2x128_si256(lo, hi, 0x20));
    store(out + 4, _mm256_permute2x128_si256(lo, hi, 0x31));
  };
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const PairSums sums = pair_sums(r, b, a, count, j);
    const __m256i e0 = sums.e0, o0 = sums.o0, e1 = sums.e1, o1 = sums.o1;
    interleave_store(out0 + j, reduce(e0), reduce(o0));
    interleave_store(out1 + j, reduce(e1), reduce(o1));
  }
  dot_pair_tail(r, b, a, count, out0, out1, j, n, q);
}

void dot_pair_blocked_u32_avx2(const std::uint32_t* const* r, const std::uint32_t* const* b,
                               const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                               std::size_t j0, std::size_t n, const BlockedDestination& dst, std::uint64_t q) noexcept {
  // dot_pair_reduce_u32's sums of a slot block's two halves; with the odd sums
  // shifted up each half's lanes hold its eight 32-bit words in slot order.
  // The output block: gather_blocked_narrow_avx2's two permutations and blend.
  const Reduce64 reduce(q);
  const __m256i q32 = _mm256_set1_epi32(static_cast<int>(q));
  const __m256i low3 = _mm256_set1_epi32(7), bit3 = _mm256_set1_epi32(8);
  for (std::size_t j = 0; j < n; j += kSlotBlock) {
    __m256i v0[2], v1[2];
    for (int h = 0; h < 2; ++h) {
      const std::size_t o = j + 8 * h;
      const PairSums sums = pair_sums(r, b, a, count, o);
      const __m256i e0 = sums.e0, o0 = sums.o0, e1 = sums.e1, o1 = sums.o1;
      const __m256i s0 = _mm256_add_epi32(_mm256_or_si256(reduce(e0), _mm256_slli_epi64(reduce(o0), 32)),
                                          load(add + o));
      v0[h] = _mm256_min_epu32(s0, _mm256_sub_epi32(s0, q32));  // < 2q < 2^31: one subtraction
      v1[h] = _mm256_or_si256(reduce(e1), _mm256_slli_epi64(reduce(o1), 32));
    }
    const std::size_t block = dst.dest_block[(j0 + j) / kSlotBlock];
    const std::uint32_t* pb = dst.perm + block * kSlotBlock;
    for (int v = 0; v < 2; ++v) {
      // Output words 8v .. 8v + 7 are slots 4v, 4v + 8, 4v + 1, 4v + 9, ...
      const __m256i p = _mm256_setr_epi32(pb[4 * v], pb[4 * v + 8], pb[4 * v + 1], pb[4 * v + 9], pb[4 * v + 2],
                                          pb[4 * v + 10], pb[4 * v + 3], pb[4 * v + 11]);
      const __m256i index = _mm256_and_si256(p, low3);
      const __m256i from_high = _mm256_cmpeq_epi32(_mm256_and_si256(p, bit3), bit3);
      store(dst.c0 + block * dst.stride + 8 * v,
            _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(v0[0], index), _mm256_permutevar8x32_epi32(v0[1], index),
                               from_high));
      store(dst.c1 + block * dst.stride + 8 * v,
            _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(v1[0], index), _mm256_permutevar8x32_epi32(v1[1], index),
                               from_high));
    }
  }
}

void gadget_top_digit_ntt_u32_avx2(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                   std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                   std::uint32_t q) noexcept {
  const __m256i qv = _mm256_set1_epi64x(q), iv = _mm256_set1_epi64x(inv), is = _mm256_set1_epi64x(inv_shoup);
  const __m256i low_words = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256i d0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d0_ntt + j)));
    const __m256i x = _mm256_sub_epi64(_mm256_add_epi64(load(c_ntt + j), qv), d0);
    const __m256i h = _mm256_srli_epi64(_mm256_mul_epu32(x, is), 32);
    const __m256i r = _mm256_sub_epi64(_mm256_mul_epu32(x, iv), _mm256_mul_epu32(h, qv));  // [0, 2q), < 2^31
    const __m256i reduced = _mm256_sub_epi64(r, _mm256_andnot_si256(_mm256_cmpgt_epi64(qv, r), qv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j),
                     _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(reduced, low_words)));
  }
  gadget_top_digit_ntt_u32_reference(c_ntt + j, d0_ntt + j, inv, out + j, n - j, q);
}

}  // namespace fhellm::math
