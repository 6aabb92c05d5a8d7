// Internal helpers of the 32-bit NTT kernels (ntt32_avx2.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/ntt.h"

namespace fhellm::math {

// Fills the lane_* twiddle tables of `t` (its roots must be set).
void fill_lane_twiddles32(NttTables32& t);

// Word-size conversions (AVX2; call only when cpu_has_avx2()). narrow needs
// every input < 2^32.
void narrow_u64_to_u32_avx2(const std::uint64_t* in, std::uint32_t* out, std::size_t n) noexcept;
void widen_u32_to_u64_avx2(const std::uint32_t* in, std::uint64_t* out, std::size_t n) noexcept;

}  // namespace fhellm::math
