// Portable composed-gadget kernels and their run-time dispatch (see
// composed_gadget.h).
#include "math/composed_gadget.h"

#include <algorithm>

#include "math/composed_gadget_simd.h"
#include "math/cpu_features.h"

namespace fhellm::math {

namespace {

std::uint64_t pow_mod(std::uint64_t b, std::uint64_t e, std::uint64_t q) noexcept {
  std::uint64_t r = 1 % q;
  b %= q;
  for (; e > 0; e >>= 1, b = b * b % q)
    if (e & 1) r = r * b % q;
  return r;
}

std::uint32_t shoup(std::uint32_t v, std::uint32_t q) noexcept {
  return static_cast<std::uint32_t>((std::uint64_t{v} << 32) / q);
}

}  // namespace

ComposedShape composed_gadget_shape(const ComposedGadget& g) noexcept {
  ComposedShape s;
  s.q0 = g.q0;
  s.q1 = g.q1;
  s.big_q = g.q0 * g.q1;
  s.half_q = s.big_q >> 1;
  s.lift = (g.q0 / g.q1 + 1) * g.q1;
  s.inv = static_cast<std::uint32_t>(pow_mod(g.q0, g.q1 - 2, g.q1));  // q1 prime (every RNS modulus here is)
  s.inv_shoup = shoup(s.inv, static_cast<std::uint32_t>(g.q1));
  s.w = g.w;
  s.levels = g.levels;
  s.half = std::int64_t{1} << (g.w - 1);
  s.mask = (std::uint64_t{1} << g.w) - 1;
  s.offset = 0;
  for (std::size_t t = 0; t + 1 < g.levels; ++t) s.offset += s.half << (g.w * t);
  return s;
}

std::uint64_t composed_digit_bound(const ComposedGadget& g) noexcept {
  const ComposedShape s = composed_gadget_shape(g);
  const auto hq = static_cast<std::int64_t>(s.half_q);  // |x| <= (Q - 1) / 2
  const int top_shift = g.w * static_cast<int>(g.levels - 1);
  const std::int64_t top_hi = (hq + s.offset) >> top_shift;
  const std::int64_t top_lo = (-hq + s.offset) >> top_shift;
  std::uint64_t bound = static_cast<std::uint64_t>(std::max(top_hi, -top_lo));
  if (g.levels > 1) bound = std::max(bound, static_cast<std::uint64_t>(s.half));
  return bound;
}

void composed_digits_lift_u32_reference(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                        std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    // CRT: X = r0 + q0 ((r1 - r0) q0^-1 mod q1), in [0, Q); x centred.
    const std::uint64_t h = (r1[j] + s.lift - r0[j]) % s.q1 * s.inv % s.q1;
    const std::uint64_t big_x = r0[j] + s.q0 * h;
    const std::int64_t x = big_x > s.half_q ? static_cast<std::int64_t>(big_x - s.big_q)
                                            : static_cast<std::int64_t>(big_x);
    const std::int64_t y = x + s.offset;
    for (std::size_t t = 0; t < count; ++t) {
      const std::int64_t v = y >> (s.w * static_cast<int>(t));
      const std::int64_t d =
          t + 1 == s.levels ? v : static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & s.mask) - s.half;
      out[2 * t][j] = static_cast<std::uint32_t>(d < 0 ? static_cast<std::uint64_t>(d) + s.q0 : d);
      out[2 * t + 1][j] = static_cast<std::uint32_t>(d < 0 ? static_cast<std::uint64_t>(d) + s.q1 : d);
    }
  }
}

void composed_digits_lift_u32_tail(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                                   std::size_t count, std::uint32_t* const* out, std::size_t j0,
                                   std::size_t n) noexcept {
  if (j0 == n) return;
  std::uint32_t* rest[2 * kComposedMaxLevels];
  for (std::size_t t = 0; t < 2 * count; ++t) rest[t] = out[t] + j0;
  composed_digits_lift_u32_reference(r0 + j0, r1 + j0, s, count, rest, n - j0);
}

void composed_digits_lift_u32(const std::uint64_t* r0, const std::uint64_t* r1, const ComposedShape& s,
                              std::size_t count, std::uint32_t* const* out, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return composed_digits_lift_u32_avx512(r0, r1, s, count, out, n);
  if (cpu_has_avx2()) return composed_digits_lift_u32_avx2(r0, r1, s, count, out, n);
  composed_digits_lift_u32_reference(r0, r1, s, count, out, n);
}

void composed_top_digit_ntt_u32_reference(const std::uint64_t* c_ntt, const std::uint32_t* d0,
                                          const std::uint32_t* d1, std::uint32_t base, std::uint32_t inv,
                                          std::uint32_t* out, std::size_t n, std::uint32_t q) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t low = (d0[j] + std::uint64_t{base} * d1[j]) % q;
    out[j] = static_cast<std::uint32_t>((c_ntt[j] + q - low) % q * inv % q);
  }
}

void composed_top_digit_ntt_u32(const std::uint64_t* c_ntt, const std::uint32_t* d0, const std::uint32_t* d1,
                                std::uint32_t base, std::uint32_t inv, std::uint32_t* out, std::size_t n,
                                std::uint32_t q) noexcept {
  if (cpu_has_avx512ifma())
    return composed_top_digit_ntt_u32_avx512(c_ntt, d0, d1, base, shoup(base, q), inv, shoup(inv, q), out, n, q);
  if (cpu_has_avx2())
    return composed_top_digit_ntt_u32_avx2(c_ntt, d0, d1, base, shoup(base, q), inv, shoup(inv, q), out, n, q);
  composed_top_digit_ntt_u32_reference(c_ntt, d0, d1, base, inv, out, n, q);
}

}  // namespace fhellm::math
