#include "he/circuit_privacy.h"

#include <cmath>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm::he {

void add_fresh_error(const Context& context, RnsPoly& poly, Prng& rng, std::span<const std::uint32_t> positions) {
  const std::size_t n = context.poly_degree();
  const std::size_t count = positions.empty() ? n : positions.size();
  std::vector<std::int64_t> e(count);
  rng.fill_centered_binomial(context.params().error_binomial_eta, e.data(), count);
  for (std::size_t i = 0; i < poly.moduli_count(); ++i) {
    const math::Modulus& q = context.modulus(i);
    std::uint64_t* r = poly.residues(i);
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t at = positions.empty() ? j : positions[j];
      r[at] = q.add(r[at], q.from_signed(e[j]));
    }
  }
}

void sample_rounded_gaussian(Prng& rng, double sigma, std::int64_t* out, std::size_t count) {
  require(sigma >= 0 && sigma < 0x1p49, ErrorCode::invalid_argument,
          "rounded Gaussian: standard deviation " + std::to_string(sigma) + " outside [0, 2^49)");
  constexpr double kTwoPi = 6.283185307179586;
  std::uint64_t words[2 * 256];
  for (std::size_t done = 0; done < count;) {
    const std::size_t pairs = std::min<std::size_t>(256, (count - done + 1) / 2);
    rng.fill(reinterpret_cast<std::uint8_t*>(words), 2 * pairs * sizeof(std::uint64_t));
    for (std::size_t p = 0; p < pairs; ++p) {
      // Box-Muller: u1 in (0, 1], u2 in [0, 1), 53 bits each.
      const double u1 = static_cast<double>((words[2 * p] >> 11) + 1) * 0x1p-53;
      const double u2 = static_cast<double>(words[2 * p + 1] >> 11) * 0x1p-53;
      const double radius = sigma * std::sqrt(-2.0 * std::log(u1));
      const double angle = kTwoPi * u2;
      out[done++] = std::llround(radius * std::cos(angle));
      if (done < count) out[done++] = std::llround(radius * std::sin(angle));
    }
  }
}

void add_flood(const Context& context, RnsPoly& poly, std::span<const std::uint32_t> positions, double sigma,
               int shift, Prng& rng) {
  require(shift >= 0 && shift <= 61, ErrorCode::invalid_argument,
          "flood: granularity 2^" + std::to_string(shift) + " outside 2^0..2^61");
  const std::size_t count = positions.size();
  std::vector<std::int64_t> coarse(count), fine(count, 0);
  sample_rounded_gaussian(rng, std::ldexp(sigma, -shift), coarse.data(), count);
  if (shift > 0) {
    rng.fill(reinterpret_cast<std::uint8_t*>(fine.data()), count * sizeof(std::int64_t));
    const std::uint64_t mask = (std::uint64_t{1} << shift) - 1, half = std::uint64_t{1} << (shift - 1);
    for (std::int64_t& v : fine)
      v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) & mask) - static_cast<std::int64_t>(half);
  }
  for (std::size_t i = 0; i < poly.moduli_count(); ++i) {
    const math::Modulus& q = context.modulus(i);
    const std::uint64_t unit = q.reduce(std::uint64_t{1} << shift);
    std::uint64_t* r = poly.residues(i);
    if (shift == 0) {  // the common case: F = C
      for (std::size_t j = 0; j < count; ++j) r[positions[j]] = q.add(r[positions[j]], q.from_signed(coarse[j]));
      continue;
    }
    for (std::size_t j = 0; j < count; ++j) {
      const std::uint64_t f = q.add(q.mul(q.from_signed(coarse[j]), unit), q.from_signed(fine[j]));
      r[positions[j]] = q.add(r[positions[j]], f);
    }
  }
}

}  // namespace fhellm::he
