// Kernels of the composed gadget (he::GadgetBase::composed): the key switch's
// digits taken from the coefficient mod Q = q0 q1 itself instead of from each
// residue. Two 27-bit primes cut per residue into 14-bit digits give four
// digits (six forward NTTs a key switch); the composed coefficient cut into
// 18-bit digits gives three (four NTTs, the top digit's transform taken from
// the input's own), at the noise of 18-bit digits. Each kernel has a portable
// *_reference version; the plain name picks the AVX-512 or AVX2 build at run
// time (cpu_features.h). All versions give identical outputs. No checking
// (hot paths): callers validate at their boundary (he/gadget_decomposition.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

// Q = q0 q1 with q0, q1 < 2^30 odd and coprime; base-2^w balanced digits of
// the centred coefficient (GadgetDigit's rule, keyswitch_kernels.h, with q_src
// = Q): d_t in [-2^(w-1), 2^(w-1)) for t < levels - 1, the top digit the rest.
struct ComposedGadget {
  std::uint64_t q0 = 0, q1 = 0;
  int w = 0;
  std::size_t levels = 0;  // 1..kComposedMaxLevels, w (levels - 1) < 62
};

inline constexpr std::size_t kComposedMaxLevels = 16;

// Precomputed constants of a ComposedGadget (composed_gadget_shape).
struct ComposedShape {
  std::uint64_t q0 = 0, q1 = 0, big_q = 0, half_q = 0;
  std::uint64_t lift = 0;        // a multiple of q1 above every r0 (r1 + lift - r0 > 0), lift + q1 < 2^32
  std::uint32_t inv = 0;         // q0^-1 mod q1
  std::uint32_t inv_shoup = 0;   // floor(inv 2^32 / q1)
  int w = 0;
  std::size_t levels = 0;
  std::int64_t half = 0;         // 2^(w-1)
  std::uint64_t mask = 0;        // 2^w - 1
  std::int64_t offset = 0;       // sum_{t < levels-1} 2^(w-1) 2^(w t)
};
ComposedShape composed_gadget_shape(const ComposedGadget& g) noexcept;

// Largest |d_t| over every digit of every coefficient mod Q.
std::uint64_t composed_digit_bound(const ComposedGadget& g) noexcept;

// With r0[j] = c_j mod q0 and r1[j] = c_j mod q1 (both reduced), the digits
// t < count of c_j: out[2 t] = d_t mod q0, out[2 t + 1] = d_t mod q1, in
// 32-bit words. count <= levels (levels - 1 skips the top digit, whose
// transform composed_top_digit_ntt_u32 gives).
void composed_digits_lift_u32(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                              std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept;
void composed_digits_lift_u32_reference(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                        std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept;

// A three-digit gadget's top digit in NTT form from the input's and the two
// lower digits' transforms, for one prime q < 2^30: c = d0 + 2^w d1 + 2^(2w)
// d2 (mod q) coefficientwise, so NTT(d2) = (NTT(c) - NTT(d0) - 2^w NTT(d1))
// 2^(-2w) mod q: one pass instead of a forward NTT. c_ntt, d0, d1 in [0, q);
// base = 2^w mod q, inv = 2^(-2w) mod q.
void composed_top_digit_ntt_u32(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                std::uint32_t base, std::uint32_t inv, std::uint32_t* out, std::size_t n,
                                std::uint32_t q) noexcept;
void composed_top_digit_ntt_u32_reference(const std::uint64_t* c_ntt, const std::uint32_t* d0,
                                          const std::uint32_t* d1, std::uint32_t base, std::uint32_t inv,
                                          std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept;

}  // namespace fhellm::math
