// Kernels of the RLWE key switch (he::Evaluator::key_switch and
// apply_galois_inplace): gadget digit extraction fused with the lift to
// another prime, paired lazy multiply-accumulates (the b and a halves of a key
// in one pass over the digit), vectorized final reductions and the two forms
// of the automorphism X -> X^g. Each kernel has a portable *_reference
// version; the plain name picks the AVX-512 build at run time when
// cpu_has_avx512ifma() (see cpu_features.h). All versions give identical
// outputs. No checking (hot paths): callers validate at their boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "math/blocked_product.h"
#include "math/modulus.h"
#include "math/ntt.h"

namespace fhellm::math {

// Balanced base-2^w gadget digits of centred residues. With x the centred
// representative of c[j] mod q_src (in (-q_src/2, q_src/2]), digits d_0..d_{L-1}
// satisfy x = sum_t d_t 2^(w t), d_t in [-2^(w-1), 2^(w-1)) for t < L - 1, and
// d_{L-1} takes the rest. Equivalently, with H = sum_{t < L-1} 2^(w-1) 2^(w t):
//   d_t = (((x + H) >> (w t)) mod 2^w) - 2^(w-1)   (t < L - 1),
//   d_{L-1} = (x + H) >> (w (L - 1))               (arithmetic shift).
struct GadgetDigit {
  std::uint64_t q_src = 0;  // odd modulus of the input residues
  int w = 0;                // digit bits, 1..61
  std::size_t levels = 1;   // L >= 1, w (L - 1) <= 61
  std::size_t digit = 0;    // t < L
};

// Largest |d_t| over every digit t of every residue mod q_src.
std::uint64_t gadget_digit_bound(std::uint64_t q_src, int w, std::size_t levels) noexcept;

// out[j] = d_t(c[j]) mod q_dst, for c[j] in [0, q_src). Requires
// gadget_digit_bound(q_src, w, levels) < q_dst < 2^63.
void gadget_digit_lift(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst, std::uint64_t* out,
                       std::size_t n) noexcept;
void gadget_digit_lift_reference(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst,
                                 std::uint64_t* out, std::size_t n) noexcept;

// The NTT form of a two-digit gadget's top digit from the others: the digits
// of a residue c satisfy c = d_0 + 2^w d_1 (mod q) coefficientwise, so
// NTT(d_1) = (NTT(c) - NTT(d_0)) 2^-w mod q, one pass over the slots instead
// of a forward NTT (key switches whose input's NTT form is at hand: the
// packing trees'). c_ntt and d0_ntt in [0, q); inv = 2^-w mod q; q < 2^30.
void gadget_top_digit_ntt_u32(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                              std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept;
void gadget_top_digit_ntt_u32_reference(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                        std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept;

// acc0[i] (+)= r[i] * b[i], acc1[i] (+)= r[i] * a[i] with 32x32 -> 64-bit
// products (operands < 2^32); `assign` overwrites instead of adding.
void multiply_accumulate_pair_u64(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                  std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n, bool assign) noexcept;
void multiply_accumulate_pair_u64_reference(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                            std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n,
                                            bool assign) noexcept;

// Split accumulation (see multiply_accumulate_split52 in poly_arith.h) of both
// halves: with p = r[i] * b[i] (resp. a[i]) < 2^100, lo (+)= p mod 2^52 and
// hi (+)= p >> 52. Operands < 2^52.
void multiply_accumulate_pair_split52(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                      std::uint64_t* acc0_lo, std::uint64_t* acc0_hi, std::uint64_t* acc1_lo,
                                      std::uint64_t* acc1_hi, std::size_t n, bool assign) noexcept;
void multiply_accumulate_pair_split52_reference(const std::uint64_t* r, const std::uint64_t* b,
                                                const std::uint64_t* a, std::uint64_t* acc0_lo,
                                                std::uint64_t* acc0_hi, std::uint64_t* acc1_lo,
                                                std::uint64_t* acc1_hi, std::size_t n, bool assign) noexcept;

// Whole multiply-accumulate of one target prime in one pass, reduced:
// out0[j] = sum_d r[d][j] b[d][j] mod q, out1[j] = sum_d r[d][j] a[d][j] mod q,
// inputs in [0, q). The _u64 form needs q < 2^32 and
// count <= max_lazy_terms_u64(q) (poly_arith.h); the _split52 form needs
// q < 2^50 and count <= 16 (each 2^52-split half-sum stays below 2^52).
void dot_pair_reduce_u64(const std::uint64_t* const* r, const std::uint64_t* const* b,
                         const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0, std::uint64_t* out1,
                         std::size_t n, const Modulus& q) noexcept;
void dot_pair_reduce_u64_reference(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                   const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                   std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept;
void dot_pair_reduce_split52(const std::uint64_t* const* r, const std::uint64_t* const* b,
                             const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                             std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept;
void dot_pair_reduce_split52_reference(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                       const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                       std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept;
constexpr std::size_t kDotSplit52MaxTerms = 16;

// out[i] = acc[i] mod q for any 64-bit acc[i] (vectorized for q < 2^32).
void reduce_u64_fast(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;
void reduce_u64_fast_reference(const std::uint64_t* acc, std::uint64_t* out, std::size_t n,
                               const Modulus& q) noexcept;

// out[i] = (acc_hi[i] 2^52 + acc_lo[i]) mod q, q < 2^50 (vectorized when
// acc_hi[i] < 2^52 for the whole array, else the scalar loop).
void reduce_split52_fast(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                         std::size_t n, const Modulus& q) noexcept;
void reduce_split52_fast_reference(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                                   std::size_t n, const Modulus& q) noexcept;

// NTT-form automorphism: dst[j] = src[perm[j]] (perm from
// ntt_automorphism_permutation). dst must not alias src. Such a permutation
// maps each block of 16 slots from one source block (the AVX-512 build moves
// a block with two two-source permutations, no gathers: gathers measured
// slower than the plain loop).
void permute_slots(const std::uint64_t* src, const std::uint32_t* perm, std::uint64_t* dst, std::size_t n) noexcept;
void permute_slots_reference(const std::uint64_t* src, const std::uint32_t* perm, std::uint64_t* dst,
                             std::size_t n) noexcept;

// Coefficient-form automorphism X -> X^g mod (X^n + 1, q): coefficient j of
// src lands at (j g mod 2n), negated past n. g odd, < 2n; n a power of two;
// dst must not alias src.
void automorphism_coeff(const std::uint64_t* src, std::uint64_t galois_elt, std::uint64_t q, std::uint64_t* dst,
                        std::size_t n) noexcept;
void automorphism_coeff_reference(const std::uint64_t* src, std::uint64_t galois_elt, std::uint64_t q,
                                  std::uint64_t* dst, std::size_t n) noexcept;

// dst[j] = (src[perm[j]] + add[j]) mod q: the NTT-form automorphism of c0
// plus the key switch's part, in one pass. dst must not alias src.
void permute_slots_add(const std::uint64_t* src, const std::uint32_t* perm, const std::uint64_t* add,
                       std::uint64_t* dst, std::size_t n, std::uint64_t q) noexcept;

// 32-bit pipeline for primes q < 2^30 (n2048_q54's 27-bit primes): digits,
// forward NTT and accumulation on 32-bit words (NttTables32, ntt.h), 16 lanes
// per AVX-512 vector or 8 per AVX2 vector, same values as the 64-bit path.
// True when the 32-bit pipeline applies: q < 2^30, N >= 32 and AVX2 or AVX-512.
bool ntt32_available(const NttTables& tables) noexcept;
// The tables' 32-bit copy (NttTables::tables32()). Requires q < 2^30.
const NttTables32& ntt_tables32(const NttTables& tables);
// Forward NTT of ntt.h on 32-bit words (inputs in [0, q), outputs as
// ntt_forward's). The _reference version goes through ntt_forward_reference.
void ntt_forward_u32(std::uint32_t* values, const NttTables32& tables) noexcept;
void ntt_forward_u32_reference(std::uint32_t* values, const NttTables& tables) noexcept;
// ntt_inverse of ntt.h on 64-bit words, computed on 32-bit lanes (narrowed in
// the first pass, widened in the last); inputs in [0, q).
void ntt_inverse_via32(std::uint64_t* values, const NttTables32& tables) noexcept;
// gadget_digit_lift into 32-bit words (q_dst < 2^32).
void gadget_digit_lift_u32(const std::uint64_t* c, const GadgetDigit& g, std::uint64_t q_dst, std::uint32_t* out,
                           std::size_t n) noexcept;
// The same digit lifted to `count` primes in one pass: out[l] for q_dst[l].
void gadget_digit_lift_u32_multi(const std::uint64_t* c, const GadgetDigit& g, const std::uint64_t* q_dst,
                                 std::uint32_t* const* out, std::size_t count, std::size_t n) noexcept;
// dot_pair_reduce_u64 with the r[d] in 32-bit words.
void dot_pair_reduce_u64_r32(const std::uint32_t* const* r, const std::uint64_t* const* b,
                             const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                             std::uint64_t* out1, std::size_t n, const Modulus& q) noexcept;

// dot_pair_reduce_u64_r32 with every operand in 32-bit words (q < 2^30).
void dot_pair_reduce_u32(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                         std::size_t count, std::uint64_t* out0, std::uint64_t* out1, std::size_t n,
                         const Modulus& q) noexcept;

// Where dot_pair_blocked_u32 writes an automorphism's output: the blocked
// layout of blocked_product.h, slot block B of c0 at c0 + B * stride and of
// c1 at c1 + B * stride (words in blocked_slot_word order). perm is the
// automorphism's slot permutation (slot j of the output is slot perm[j] of
// the sums), dest_block[s] the output block whose slots come from source
// block s (perm keeps blocks: blocked_permutation_keeps_blocks).
struct BlockedDestination {
  const std::uint32_t* perm = nullptr;
  const std::uint32_t* dest_block = nullptr;
  std::uint32_t* c0 = nullptr;
  std::uint32_t* c1 = nullptr;
  std::size_t stride = 0;
};
// A hoisted automorphism's multiply-accumulate straight into the blocked
// layout: for the source slots j0 .. j0 + n - 1 (whole slot blocks; r, b, a
// and add point at slot j0) the sums v0 = add + sum_d r[d] b[d] and v1 =
// sum_d r[d] a[d] mod q, then each source block's output block written
// permuted (gather_blocked_narrow's step), in one pass: no 64-bit sums in
// memory. add in [0, q), q < 2^30, count <= 15 (the 64-bit sums).
void dot_pair_blocked_u32(const std::uint32_t* const* r, const std::uint32_t* const* b, const std::uint32_t* const* a,
                          std::size_t count, const std::uint32_t* add, std::size_t j0, std::size_t n,
                          const BlockedDestination& dst, const Modulus& q) noexcept;
void dot_pair_blocked_u32_reference(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                    const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                                    std::size_t j0, std::size_t n, const BlockedDestination& dst,
                                    const Modulus& q) noexcept;

}  // namespace fhellm::math
