#include "he/coefficient_rounding.h"

#include <cmath>
#include <vector>

#include "fhellm/error.h"
#include "math/modulus.h"

namespace fhellm::he {
namespace {

// round(x t / q) = floor((x t + floor(q / 2)) / q) for x < q < 2^63, t <= 2^40:
// the double estimate is within a few units (x t / q < 2^40, 53-bit
// mantissas), then corrected against the exact 128-bit numerator.
std::uint64_t scaled_round(std::uint64_t x, std::uint64_t t, std::uint64_t q, double ratio) {
  const math::u128 num = static_cast<math::u128>(x) * t + q / 2;
  const double guess = static_cast<double>(x) * ratio + 0.5;
  std::uint64_t r = guess > 0 ? static_cast<std::uint64_t>(guess) : 0;
  math::u128 at = static_cast<math::u128>(r) * q;
  while (at > num) {
    --r;
    at -= q;
  }
  while (num - at >= q) {
    ++r;
    at += q;
  }
  return r;
}

std::uint64_t round_word(std::uint64_t x, std::uint64_t target, std::uint64_t q64, double ratio, bool estimate) {
  const std::uint64_t r = estimate ? scaled_round(x, target, q64, ratio)
                                   : static_cast<std::uint64_t>((static_cast<math::u128>(x) * target + q64 / 2) / q64);
  return r == target ? 0 : r;
}

// Q < 2^63: x = CRT(residues) as a 64-bit word, then the scaled rounding.
void round_word_modulus(const Context& ctx, const RnsPoly& poly, std::uint64_t target, std::uint64_t* out) {
  const CrtWord crt(ctx);
  const std::uint64_t q64 = crt.modulus();
  // Targets up to 2^40 (every reply and upload): a double estimate made
  // exact with two 128-bit products instead of a 128-bit division.
  const bool estimate = target <= (std::uint64_t{1} << 40);
  const double ratio = static_cast<double>(target) / static_cast<double>(q64);
  for (std::size_t j = 0; j < ctx.poly_degree(); ++j) out[j] = round_word(crt(poly, j), target, q64, ratio, estimate);
}

// Q of several words.
void round_wide_modulus(const Context& ctx, const RnsPoly& poly, std::uint64_t target, std::uint64_t* out) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const math::RnsBasis& basis = ctx.coeff_basis();
  const math::WideInt& big_q = basis.product();
  const math::WideInt half_q = big_q.shifted_right(1);
  const long double q_ld = big_q.to_long_double();
  std::uint64_t residues[math::RnsBasis::kMaxModuli];
  long double inv_q[math::RnsBasis::kMaxModuli];
  for (std::size_t i = 0; i < k; ++i) inv_q[i] = 1.0L / static_cast<long double>(ctx.modulus(i).value());
  const bool fast = target <= (std::uint64_t{1} << 48);
  for (std::size_t j = 0; j < n; ++j) {
    if (fast) {
      // x / Q = frac(sum_i y_i / q_i), y_i = [x_i (Q/q_i)^-1]_{q_i}, in long
      // double (error ~ k 2^-64, times q' <= 2^48: < 2^-13): accept unless the
      // rounding point is within 2^-10, else take the exact path below.
      long double frac = 0;
      for (std::size_t i = 0; i < k; ++i) {
        const std::uint64_t y = math::mul_shoup(poly.residues(i)[j], basis.punctured_inverse(i), ctx.modulus(i).value());
        frac += static_cast<long double>(y) * inv_q[i];
      }
      frac -= static_cast<long double>(static_cast<std::uint64_t>(frac));
      const long double v = frac * static_cast<long double>(target) + 0.5L;
      const std::uint64_t r = static_cast<std::uint64_t>(v);
      const long double part = v - static_cast<long double>(r);
      if (part > 0x1p-10L && part < 1 - 0x1p-10L) {
        out[j] = r >= target ? r - target : r;
        continue;
      }
    }
    for (std::size_t i = 0; i < k; ++i) residues[i] = poly.residues(i)[j];
    const math::WideInt num = basis.compose(residues).times(static_cast<std::int64_t>(target)) + half_q;
    std::int64_t est = static_cast<std::int64_t>(std::floor(num.to_long_double() / q_ld));
    math::WideInt rem = num - big_q.times(est);
    while (rem.is_negative()) {
      --est;
      rem += big_q;
    }
    while (!(rem < big_q)) {
      ++est;
      rem -= big_q;
    }
    const std::uint64_t r = static_cast<std::uint64_t>(est);
    out[j] = r == target ? 0 : r;
  }
}

}  // namespace

CrtWord::CrtWord(const Context& ctx) : ctx_(ctx) {
  const math::RnsBasis& basis = ctx.coeff_basis();
  require(basis.product().bit_length() <= 63, ErrorCode::invalid_argument, "CrtWord: Q is not below 2^63");
  q64_ = basis.product().word(0);
  if (ctx.moduli_count() == 2) {
    const math::Modulus& q0 = ctx.modulus(0);
    garner_ = math::ShoupConstant(q0.inverse(q0.reduce(ctx.modulus(1).value())), q0);
  }
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) punctured_[i] = basis.punctured_product(i).word(0);
}

std::uint64_t CrtWord::operator()(const RnsPoly& poly, std::size_t j) const noexcept {
  const std::size_t k = ctx_.moduli_count();
  if (k == 2) {
    const math::Modulus& q0 = ctx_.modulus(0);
    const std::uint64_t x1 = poly.residues(1)[j];
    const std::uint64_t d = math::mul_shoup(q0.sub(poly.residues(0)[j], q0.reduce(x1)), garner_, q0.value());
    return x1 + ctx_.modulus(1).value() * d;  // < Q
  }
  const math::RnsBasis& basis = ctx_.coeff_basis();
  math::u128 x = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint64_t y = math::mul_shoup(poly.residues(i)[j], basis.punctured_inverse(i), ctx_.modulus(i).value());
    x += static_cast<math::u128>(y) * punctured_[i];
  }
  while (x >= q64_) x -= q64_;  // x < k Q
  return static_cast<std::uint64_t>(x);
}

void round_coefficients(const Context& ctx, const RnsPoly& poly, std::uint64_t target, std::uint64_t* out) {
  require(target >= 2 && target < (std::uint64_t{1} << 61), ErrorCode::invalid_argument,
          "rounded moduli must be in [2, 2^61)");
  require(!poly.is_ntt_form(), ErrorCode::invalid_argument, "rounding needs a polynomial in coefficient form");
  if (ctx.coeff_basis().product().bit_length() <= 63) return round_word_modulus(ctx, poly, target, out);
  round_wide_modulus(ctx, poly, target, out);
}

}  // namespace fhellm::he
