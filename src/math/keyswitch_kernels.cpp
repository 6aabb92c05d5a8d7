// Portable key-switch kernels and their run-time dispatch (see
// keyswitch_kernels.h); the AVX-512 builds are in keyswitch_kernels_avx512.cpp.
#include "math/keyswitch_kernels.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "math/blocked_product.h"
#include "math/cpu_features.h"
#include "keyswitch_kernels_simd.h"
#include "ntt32_simd.h"
#include "poly_arith_simd.h"

namespace fhellm::math {

namespace {

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1;

}  // namespace

GadgetShape gadget_shape(const GadgetDigit& g) noexcept {
  GadgetShape s;
  s.half_q = g.q_src >> 1;
  s.shift = static_cast<int>(g.w * g.digit);
  s.top = g.digit + 1 == g.levels;
  s.half = std::int64_t{1} << (g.w - 1);
  s.mask = (std::uint64_t{1} << g.w) - 1;
  s.offset = 0;
  for (std::size_t t = 0; t + 1 < g.levels; ++t) s.offset += s.half << (g.w * t);
  return s;
}

std::uint64_t gadget_digit_bound(std::uint64_t q_src, int w, std::size_t levels) noexcept {
  const GadgetShape s = gadget_shape(GadgetDigit{q_src, w, levels, levels - 1});
  const std::int64_t hq = static_cast<std::int64_t>(q_src >> 1);  // |x| <= (q - 1) / 2
  const std::int64_t top_hi = (hq + s.offset) >> s.shift;
  const std::int64_t top_lo = (-hq + s.offset) >> s.shift;
  std::uint64_t bound = static_cast<std::uint64_t>(std::max(top_hi, -top_lo));
  if (levels > 1) bound = std::max(bound, static_cast<std::uint64_t>(s.half));
  return bound;
}

void gadget_digit_lift_reference(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst,
                                 std::uint64_t* out, std::size_t n) noexcept {
  const GadgetShape s = gadget_shape(g);
  for (std::size_t j = 0; j < n; ++j) {
    const std::int64_t x = c[j] > s.half_q ? static_cast<std::int64_t>(c[j] - g.q_src) : static_cast<std::int64_t>(c[j]);
    const std::int64_t v = (x + s.offset) >> s.shift;
    const std::int64_t d = s.top ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
    out[j] = static_cast<std::uint64_t>(d) + (d < 0 ? q_dst : 0);
  }
}

void gadget_digit_lift(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst, std::uint64_t* out,
                       std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return gadget_digit_lift_avx512(c, gadget_shape(g), g.q_src, q_dst, out, n);
  gadget_digit_lift_reference(c, g, q_dst, out, n);
}

void multiply_accumulate_pair_u64_reference(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                            std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n,
                                            bool assign) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t x = static_cast<std::uint32_t>(r[i]);
    const std::uint64_t p0 = x * static_cast<std::uint32_t>(b[i]);
    const std::uint64_t p1 = x * static_cast<std::uint32_t>(a[i]);
    acc0[i] = assign ? p0 : acc0[i] + p0;
    acc1[i] = assign ? p1 : acc1[i] + p1;
  }
}

void multiply_accumulate_pair_u64(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                  std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n, bool assign) noexcept {
  if (cpu_has_avx512ifma()) return multiply_accumulate_pair_u64_avx512(r, b, a, acc0, acc1, n, assign);
  multiply_accumulate_pair_u64_reference(r, b, a, acc0, acc1, n, assign);
}

void multiply_accumulate_pair_split52_reference(const std::uint64_t* r, const std::uint64_t* b,
                                                const std::uint64_t* a, std::uint64_t* acc0_lo,
                                                std::uint64_t* acc0_hi, std::uint64_t* acc1_lo,
                                                std::uint64_t* acc1_hi, std::size_t n, bool assign) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const u128 p0 = static_cast<u128>(r[i]) * b[i];
    const u128 p1 = static_cast<u128>(r[i]) * a[i];
    const std::uint64_t l0 = static_cast<std::uint64_t>(p0) & kMask52, h0 = static_cast<std::uint64_t>(p0 >> 52);
    const std::uint64_t l1 = static_cast<std::uint64_t>(p1) & kMask52, h1 = static_cast<std::uint64_t>(p1 >> 52);
    acc0_lo[i] = assign ? l0 : acc0_lo[i] + l0;
    acc0_hi[i] = assign ? h0 : acc0_hi[i] + h0;
    acc1_lo[i] = assign ? l1 : acc1_lo[i] + l1;
    acc1_hi[i] = assign ? h1 : acc1_hi[i] + h1;
  }
}

void multiply_accumulate_pair_split52(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                      std::uint64_t* acc0_lo, std::uint64_t* acc0_hi, std::uint64_t* acc1_lo,
                                      std::uint64_t* acc1_hi, std::size_t n, bool assign) noexcept {
  if (cpu_has_avx512ifma()) {
    return multiply_accumulate_pair_split52_avx512(r, b, a, acc0_lo, acc0_hi, acc1_lo, acc1_hi, n, assign);
  }
  multiply_accumulate_pair_split52_reference(r, b, a, acc0_lo, acc0_hi, acc1_lo, acc1_hi, n, assign);
}

namespace {

// Scalar multiply-reduce for digits and key words in 64-bit or 32-bit words.
template <class Digit, class KeyWord>
void dot_pair_reduce_scalar(const Digit* const* r, const KeyWord* const* b, const KeyWord* const* a,
                            std::size_t count, std::uint64_t* out0, std::uint64_t* out1, std::size_t n,
                            const Modulus& q) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    std::uint64_t s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += std::uint64_t{r[d][j]} * b[d][j];
      s1 += std::uint64_t{r[d][j]} * a[d][j];
    }
    out0[j] = q.reduce(s0);
    out1[j] = q.reduce(s1);
  }
}

}  // namespace

void dot_pair_reduce_u64_reference(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                   const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                   std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept {
  dot_pair_reduce_scalar(r, b, a, count, out0, out1, n, q);
}

void dot_pair_reduce_u64(const std::uint64_t* const* r, const std::uint64_t* const* b,
                         const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0, std::uint64_t* out1,
                         std::size_t n, const Modulus& q) noexcept {
  if (cpu_has_avx512ifma()) return dot_pair_reduce_u64_avx512(r, b, a, count, out0, out1, n, q.value());
  dot_pair_reduce_u64_reference(r, b, a, count, out0, out1, n, q);
}

void dot_pair_reduce_split52_reference(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                       const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                       std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    u128 s0 = 0, s1 = 0;
    for (std::size_t d = 0; d < count; ++d) {
      s0 += static_cast<u128>(r[d][j]) * b[d][j];
      s1 += static_cast<u128>(r[d][j]) * a[d][j];
    }
    out0[j] = q.reduce(s0);  // < 16 q^2 < 2^64 q
    out1[j] = q.reduce(s1);
  }
}

void dot_pair_reduce_split52(const std::uint64_t* const* r, const std::uint64_t* const* b,
                             const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                             std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept {
  if (cpu_has_avx512ifma()) return dot_pair_reduce_split52_avx512(r, b, a, count, out0, out1, n, q.value());
  dot_pair_reduce_split52_reference(r, b, a, count, out0, out1, n, q);
}

void reduce_u64_fast_reference(const std::uint64_t* acc, std::uint64_t* out, std::size_t n,
                               const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = q.reduce(acc[i]);
}

void reduce_u64_fast(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  if (q.value() < (std::uint64_t{1} << 32) && cpu_has_avx512ifma()) return reduce_u64_small_avx512(acc, out, n, q.value());
  if (q.value() < (std::uint64_t{1} << 30) && cpu_has_avx2()) return reduce_u64_small_avx2(acc, out, n, q.value());
  reduce_u64_fast_reference(acc, out, n, q);
}

void reduce_split52_fast_reference(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                                   std::size_t n, const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    // Barrett needs x < 2^64 q: fold acc_hi below q first.
    const std::uint64_t hi = acc_hi[i] >= q.value() ? q.reduce(acc_hi[i]) : acc_hi[i];
    out[i] = q.reduce((static_cast<u128>(hi) << 52) + acc_lo[i]);
  }
}

void reduce_split52_fast(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                         std::size_t n, const Modulus& q) noexcept {
  if (q.value() < (std::uint64_t{1} << 50) && cpu_has_avx512ifma()) {
    const std::size_t done = reduce_split52_avx512(acc_lo, acc_hi, out, n, q.value());
    if (done == n) return;
    // Rare (an acc_hi >= 2^52 on the way): finish with the scalar loop.
    return reduce_split52_fast_reference(acc_lo + done, acc_hi + done, out + done, n - done, q);
  }
  reduce_split52_fast_reference(acc_lo, acc_hi, out, n, q);
}

void permute_slots_reference(const std::uint64_t* src, const std::uint32_t* perm, std::uint64_t* dst,
                             std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) dst[j] = src[perm[j]];
}

void permute_slots(const std::uint64_t* src, const std::uint32_t* perm, std::uint64_t* dst, std::size_t n) noexcept {
  // (vpgatherqq measured slower than the plain loop: 1.16 vs 0.68 us at N =
  // 2048 on the AMD EPYC dev machine; the block permutation gathers nothing.)
  assert(n % kSlotBlock != 0 || blocked_permutation_keeps_blocks(perm, n));  // the block kernel's precondition
  if (n % kSlotBlock == 0 && cpu_has_avx512ifma()) return permute_slot_blocks_avx512(src, perm, nullptr, dst, n, 0);
  permute_slots_reference(src, perm, dst, n);
}

void automorphism_coeff_reference(const std::uint64_t* src, std::uint64_t galois_elt, std::uint64_t q,
                                  std::uint64_t* dst, std::size_t n) noexcept {
  const std::uint64_t mask = 2 * n - 1;
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t e = (j * galois_elt) & mask;
    if (e < n) dst[e] = src[j];
    else dst[e - n] = src[j] == 0 ? 0 : q - src[j];
  }
}

void automorphism_coeff(const std::uint64_t* src, std::uint64_t galois_elt, std::uint64_t q, std::uint64_t* dst,
                        std::size_t n) noexcept {
  // No AVX-512 build: a gathering version (2.19 us) and a branch-free scatter
  // (1.29 us) both measured slower than this loop (1.13-1.19 us at N = 2048).
  automorphism_coeff_reference(src, galois_elt, q, dst, n);
}

void permute_slots_add(const std::uint64_t* src, const std::uint32_t* perm, const std::uint64_t* add,
                       std::uint64_t* dst, std::size_t n, std::uint64_t q) noexcept {
  assert(n % kSlotBlock != 0 || blocked_permutation_keeps_blocks(perm, n));
  if (n % kSlotBlock == 0 && cpu_has_avx512ifma()) return permute_slot_blocks_avx512(src, perm, add, dst, n, q);
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t s = src[perm[j]] + add[j];
    dst[j] = s >= q ? s - q : s;
  }
}

bool ntt32_available(const NttTables& tables) noexcept {
  return tables.tables32() != nullptr && tables.poly_degree() >= 32 && (cpu_has_avx512ifma() || cpu_has_avx2());
}

const NttTables32& ntt_tables32(const NttTables& tables) { return *tables.tables32(); }

void ntt_forward_u32_reference(std::uint32_t* values, const NttTables& tables) noexcept {
  thread_local std::vector<std::uint64_t> wide;
  wide.assign(values, values + tables.poly_degree());
  ntt_forward_reference(wide.data(), tables);
  std::copy(wide.begin(), wide.end(), values);
}

// Callers check ntt32_available().
void ntt_forward_u32(std::uint32_t* values, const NttTables32& tables) noexcept {
  if (cpu_has_avx512ifma()) return ntt_forward_u32_avx512(values, tables);
  ntt_forward_u32_avx2(values, tables);
}

void ntt_inverse_via32(std::uint64_t* values, const NttTables32& tables) noexcept {
  if (cpu_has_avx512ifma()) return ntt_inverse_via32_avx512(values, tables);
  thread_local std::vector<std::uint32_t> scratch;
  scratch.resize(tables.n);
  narrow_u64_to_u32_avx2(values, scratch.data(), tables.n);
  ntt_inverse_u32_avx2(scratch.data(), tables);
  widen_u32_to_u64_avx2(scratch.data(), values, tables.n);
}

void gadget_digit_lift_u32(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst, std::uint32_t* out,
                           std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return gadget_digit_lift_u32_avx512(c, gadget_shape(g), g.q_src, q_dst, out, n);
  thread_local std::vector<std::uint64_t> wide;
  wide.resize(n);
  gadget_digit_lift_reference(c, g, q_dst, wide.data(), n);
  std::copy(wide.begin(), wide.end(), out);
}

void gadget_digit_lift_u32_multi(const std::uint64_t* c, const GadgetDigit& g, const std::uint64_t* q_dst,
                                 std::uint32_t* const* out, std::size_t count, std::size_t n) noexcept {
  if (count == 2 && cpu_has_avx512ifma()) {
    return gadget_digit_lift_u32x2_avx512(c, gadget_shape(g), g.q_src, q_dst, out, n);
  }
  constexpr std::uint64_t k30 = std::uint64_t{1} << 30;
  if (count == 2 && cpu_has_avx2() && g.q_src < k30 && q_dst[0] < k30 && q_dst[1] < k30) {
    return gadget_digit_lift_u32x2_avx2(c, gadget_shape(g), g.q_src, q_dst, out, n);
  }
  for (std::size_t l = 0; l < count; ++l) gadget_digit_lift_u32(c, g, q_dst[l], out[l], n);
}

void gadget_top_digit_ntt_u32_reference(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                        std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept {
  for (std::size_t j = 0; j < n; ++j)
    out[j] = static_cast<std::uint32_t>((c_ntt[j] + q - d0_ntt[j]) % q * inv % q);
}

void gadget_top_digit_ntt_u32(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                              std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept {
  // Shoup's product: x = c + q - d0 < 2q < 2^31, x inv - floor(x inv' / 2^32) q in [0, 2q).
  const auto inv_shoup = static_cast<std::uint32_t>((std::uint64_t{inv} << 32) / q);
  if (cpu_has_avx512ifma()) return gadget_top_digit_ntt_u32_avx512(c_ntt, d0_ntt, inv, inv_shoup, out, n, q);
  if (cpu_has_avx2()) return gadget_top_digit_ntt_u32_avx2(c_ntt, d0_ntt, inv, inv_shoup, out, n, q);
  gadget_top_digit_ntt_u32_reference(c_ntt, d0_ntt, inv, out, n, q);
}

void dot_pair_reduce_u32(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                         std::size_t count, std::uint64_t* out0, std::uint64_t* out1, std::size_t n,
                         const Modulus& q) noexcept {
  if (q.value() < (std::uint64_t{1} << 30)) {
    if (cpu_has_avx512ifma()) return dot_pair_reduce_u32_avx512(r, b, a, count, out0, out1, n, q.value());
    if (cpu_has_avx2()) return dot_pair_reduce_u32_avx2(r, b, a, count, out0, out1, n, q.value());
  }
  dot_pair_reduce_scalar(r, b, a, count, out0, out1, n, q);
}

void dot_pair_blocked_u32_reference(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                    const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                                    std::size_t j0, std::size_t n, const BlockedDestination& dst,
                                    const Modulus& q) noexcept {
  std::uint32_t v0[kSlotBlock], v1[kSlotBlock];
  for (std::size_t j = 0; j < n; j += kSlotBlock) {
    for (std::size_t s = 0; s < kSlotBlock; ++s) {
      std::uint64_t s0 = add[j + s], s1 = 0;
      for (std::size_t d = 0; d < count; ++d) {
        s0 += std::uint64_t{r[d][j + s]} * b[d][j + s];
        s1 += std::uint64_t{r[d][j + s]} * a[d][j + s];
      }
      v0[s] = static_cast<std::uint32_t>(q.reduce(s0));
      v1[s] = static_cast<std::uint32_t>(q.reduce(s1));
    }
    const std::size_t block = dst.dest_block[(j0 + j) / kSlotBlock];
    for (std::size_t s = 0; s < kSlotBlock; ++s) {
      const std::size_t from = dst.perm[block * kSlotBlock + s] % kSlotBlock;
      dst.c0[block * dst.stride + blocked_slot_word(s)] = v0[from];
      dst.c1[block * dst.stride + blocked_slot_word(s)] = v1[from];
    }
  }
}

void dot_pair_blocked_u32(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                          std::size_t count, const std::uint32_t* add, std::size_t j0, std::size_t n,
                          const BlockedDestination& dst, const Modulus& q) noexcept {
  assert(n % kSlotBlock == 0 && j0 % kSlotBlock == 0 && count <= 15);
  if (q.value() < (std::uint64_t{1} << 30)) {
    if (cpu_has_avx512ifma()) return dot_pair_blocked_u32_avx512(r, b, a, count, add, j0, n, dst, q.value());
    if (cpu_has_avx2()) return dot_pair_blocked_u32_avx2(r, b, a, count, add, j0, n, dst, q.value());
  }
  dot_pair_blocked_u32_reference(r, b, a, count, add, j0, n, dst, q);
}

void dot_pair_reduce_u64_r32(const std::uint32_t* const* r, const std::uint64_t* const* b,
                             const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                             std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept {
  if (cpu_has_avx512ifma()) return dot_pair_reduce_u64_r32_avx512(r, b, a, count, out0, out1, n, q.value());
  if (cpu_has_avx2() && q.value() < (std::uint64_t{1} << 30)) {
    return dot_pair_reduce_u64_r32_avx2(r, b, a, count, out0, out1, n, q.value());
  }
  dot_pair_reduce_scalar(r, b, a, count, out0, out1, n, q);
}

}  // namespace fhellm::math
