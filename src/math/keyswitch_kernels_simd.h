// SIMD builds of the key-switch kernels (keyswitch_kernels_avx512.cpp and
// _avx2.cpp), called by the dispatchers in keyswitch_kernels.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/keyswitch_kernels.h"

namespace fhellm::math {

// Precomputed constants of one gadget digit (see keyswitch_kernels.h).
struct GadgetShape {
  std::uint64_t half_q = 0;  // q_src >> 1: residues above it are negative
  int shift = 0;             // w * digit
  bool top = false;          // the last digit (no mask / offset removal)
  std::int64_t half = 0;     // 2^(w-1)
  std::uint64_t mask = 0;    // 2^w - 1
  std::int64_t offset = 0;   // H
};
GadgetShape gadget_shape(const GadgetDigit& g) noexcept;

void gadget_digit_lift_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src, std::uint64_t q_dst,
                              std::uint64_t* out, std::size_t n) noexcept;
void multiply_accumulate_pair_u64_avx512(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                         std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n,
                                         bool assign) noexcept;
void multiply_accumulate_pair_split52_avx512(const std::uint64_t* r, const std::uint64_t* b, const std::uint64_t* a,
                                             std::uint64_t* acc0_lo, std::uint64_t* acc0_hi,
                                             std::uint64_t* acc1_lo, std::uint64_t* acc1_hi, std::size_t n,
                                             bool assign) noexcept;
// q < 2^32.
void reduce_u64_small_avx512(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, std::uint64_t q) noexcept;
// q < 2^50; returns how many leading outputs it wrote (stops at the first
// block of 8 with an acc_hi >= 2^52).
std::size_t reduce_split52_avx512(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out,
                                  std::size_t n, std::uint64_t q) noexcept;
void dot_pair_reduce_u64_avx512(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;
void dot_pair_reduce_split52_avx512(const std::uint64_t* const* r, const std::uint64_t* const* b,
                                    const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                    std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;
void ntt_forward_u32_avx512(std::uint32_t* values, const NttTables32& tables) noexcept;  // n >= 32
void ntt_inverse_via32_avx512(std::uint64_t* values, const NttTables32& tables) noexcept;  // n >= 32
void gadget_digit_lift_u32_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                  std::uint64_t q_dst, std::uint32_t* out, std::size_t n) noexcept;
// Two targets (out[0] for q_dst[0], out[1] for q_dst[1]).
void gadget_digit_lift_u32x2_avx512(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                    const std::uint64_t* q_dst, std::uint32_t* const* out, std::size_t n) noexcept;
void dot_pair_reduce_u64_r32_avx512(const std::uint32_t* const* r, const std::uint64_t* const* b,
                                    const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                    std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;

// AVX2 builds (keyswitch_kernels_avx2.cpp), for q_src, q_dst, q < 2^30.
void gadget_digit_lift_u32x2_avx2(const std::uint64_t* c, const GadgetShape& s, std::uint64_t q_src,
                                  const std::uint64_t* q_dst, std::uint32_t* const* out, std::size_t n) noexcept;
void dot_pair_reduce_u64_r32_avx2(const std::uint32_t* const* r, const std::uint64_t* const* b,
                                  const std::uint64_t* const* a, std::size_t count, std::uint64_t* out0,
                                  std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;

void dot_pair_reduce_u32_avx512(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                const std::uint32_t* const* a, std::size_t count, std::uint64_t* out0,
                                std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;
void dot_pair_reduce_u32_avx2(const std::uint32_t* const* r, const std::uint32_t* const* b,
                              const std::uint32_t* const* a, std::size_t count, std::uint64_t* out0,
                              std::uint64_t* out1, std::size_t n, std::uint64_t q) noexcept;
// dot_pair_blocked_u32 (q < 2^30, n a multiple of 16).
void dot_pair_blocked_u32_avx512(const std::uint32_t* const* r, const std::uint32_t* const* b,
                                 const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                                 std::size_t j0, std::size_t n, const BlockedDestination& dst,
                                 std::uint64_t q) noexcept;
void dot_pair_blocked_u32_avx2(const std::uint32_t* const* r, const std::uint32_t* const* b,
                               const std::uint32_t* const* a, std::size_t count, const std::uint32_t* add,
                               std::size_t j0, std::size_t n, const BlockedDestination& dst, std::uint64_t q) noexcept;

// permute_slots(_add) for permutations that keep blocks of 16 slots; n a
// multiple of 16. add null: no addition.
void permute_slot_blocks_avx512(const std::uint64_t* src, const std::uint32_t* perm, const std::uint64_t* add,
                                std::uint64_t* dst, std::size_t n, std::uint64_t q) noexcept;

// gadget_top_digit_ntt_u32 (inv_shoup = floor(inv 2^32 / q)).
void gadget_top_digit_ntt_u32_avx512(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                     std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                     std::uint32_t q) noexcept;
void gadget_top_digit_ntt_u32_avx2(const std::uint64_t* c_ntt, const std::uint32_t* d0_ntt, std::uint32_t inv,
                                   std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                   std::uint32_t q) noexcept;

}  // namespace fhellm::math
