// SIMD builds of the composed-gadget kernels (composed_gadget_avx512.cpp and
// _avx2.cpp), called by the dispatchers in composed_gadget.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/composed_gadget.h"

namespace fhellm::math {

// The coefficients j0..n-1 that a vector step does not cover (the reference loop).
void composed_digits_lift_u32_tail(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                   std::size_t count, std::uint32_t* const* out, std::size_t j0,
                                   std::size_t n) noexcept;

// The SIMD builds (composed_gadget_avx512.cpp, _avx2.cpp). Shoup constants:
// base_shoup = floor(base 2^32 / q), inv_shoup likewise.
void composed_digits_lift_u32_avx512(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                     std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept;
void composed_digits_lift_u32_avx2(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                   std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept;
void composed_top_digit_ntt_u32_avx512(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                       std::uint32_t base, std::uint32_t base_shoup, std::uint32_t inv,
                                       std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                       std::uint32_t q) noexcept;
void composed_top_digit_ntt_u32_avx2(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                     std::uint32_t base, std::uint32_t base_shoup, std::uint32_t inv,
                                     std::uint32_t inv_shoup, std::uint32_t* out, std::size_t n,
                                     std::uint32_t q) noexcept;

}  // namespace fhellm::math
