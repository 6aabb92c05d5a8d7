#include "he/plaintext.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "fhellm/error.h"

namespace fhellm::he {

Scale Scale::from_plain_modulus(const Context& context, std::uint64_t plain_modulus) {
  require(plain_modulus >= 2, ErrorCode::invalid_argument, "plain modulus must be >= 2");
  const math::WideInt delta = context.coeff_basis().product().divided_by(plain_modulus);
  require(!delta.is_zero(), ErrorCode::invalid_argument,
          "plain modulus " + std::to_string(plain_modulus) + " exceeds Q");
  return from_delta(context, delta);
}

Scale Scale::from_delta(const Context& context, const math::WideInt& delta) {
  const math::WideInt& q = context.coeff_basis().product();
  require(!delta.is_negative() && !delta.is_zero() && delta < q, ErrorCode::invalid_argument,
          "Delta must be in [1, Q)");
  Scale s;
  s.param_id_ = context.param_id();
  s.delta_ = delta;
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    s.delta_residues_.push_back(delta.mod_word(context.modulus(i).value()));
  }
  s.ratio_ = q.to_long_double() / delta.to_long_double();
  // Largest m with (2m + 1) Delta <= Q: then |m Delta + e| < Q/2 for any
  // |e| < Delta/2, so the centred phase never wraps. Estimate, then fix exactly.
  const long double estimate = std::floor((s.ratio_ - 1) / 2);
  std::int64_t m = estimate > 4.0e18L ? std::int64_t{4} * 1000000000000000000LL
                                      : static_cast<std::int64_t>(std::max(estimate, 0.0L));
  while (m > 0 && q < delta.times(2 * m + 1)) --m;
  while (m < std::numeric_limits<std::int64_t>::max() / 4 && !(q < delta.times(2 * m + 3))) ++m;
  s.max_message_ = m;
  return s;
}

PlaintextNtt PlaintextNtt::encode(const Context& context, const std::int64_t* coeffs, std::size_t count) {
  PlaintextNtt pt;
  pt.poly_ = RnsPoly::from_signed(context, coeffs, count);
  to_ntt(pt.poly_, context);
  return pt;
}

PlaintextNtt PlaintextNtt::encode(const Context& context, const std::int8_t* coeffs, std::size_t count) {
  require(count <= context.poly_degree(), ErrorCode::invalid_argument,
          std::to_string(count) + " weights for a polynomial of degree " + std::to_string(context.poly_degree()));
  PlaintextNtt pt;
  pt.poly_ = RnsPoly(context, false);
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const std::uint64_t q = context.modulus(i).value();
    std::uint64_t* r = pt.poly_.residues(i);
    for (std::size_t j = 0; j < count; ++j) {
      const std::int64_t w = coeffs[j];
      r[j] = w < 0 ? q - static_cast<std::uint64_t>(-w) : static_cast<std::uint64_t>(w);
    }
  }
  to_ntt(pt.poly_, context);
  return pt;
}

PlaintextNtt PlaintextNtt::encode_scaled(const Context& context, const std::int64_t* coeffs, std::size_t count,
                                         const std::vector<std::uint64_t>& factor) {
  require(factor.size() == context.moduli_count(), ErrorCode::invalid_argument,
          "plaintext scale: one factor per prime expected");
  PlaintextNtt pt = encode(context, coeffs, count);
  // The NTT is linear: scaling the slots scales the polynomial.
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const math::Modulus& q = context.modulus(i);
    require(factor[i] < q.value(), ErrorCode::invalid_argument, "plaintext scale: factor not reduced");
    std::uint64_t* r = pt.poly_.residues(i);
    for (std::size_t j = 0; j < context.poly_degree(); ++j) r[j] = q.mul(r[j], factor[i]);
  }
  return pt;
}

// ---- PlaintextNtt32 ---------------------------------------------------------

namespace {

constexpr std::uint64_t kWordLimit32 = std::uint64_t{1} << 32;

void require_supported(const Context& context) {
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const std::uint64_t q = context.modulus(i).value();
    require(q < kWordLimit32, ErrorCode::invalid_argument,
            "32-bit plaintexts need primes below 2^32; prime " + std::to_string(i) + " of " +
                std::string(context.params().name) + " is " + std::to_string(q));
  }
}

}  // namespace

bool PlaintextNtt32::supported(const Context& context) noexcept {
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    if (context.modulus(i).value() >= kWordLimit32) return false;
  }
  return true;
}

PlaintextNtt32 PlaintextNtt32::encode(const Context& context, const std::int64_t* coeffs, std::size_t count) {
  require_supported(context);  // before the (wasted) 64-bit encoding
  return from(context, PlaintextNtt::encode(context, coeffs, count));
}

PlaintextNtt32 PlaintextNtt32::encode(const Context& context, const std::int8_t* coeffs, std::size_t count) {
  require_supported(context);
  return from(context, PlaintextNtt::encode(context, coeffs, count));
}

PlaintextNtt32 PlaintextNtt32::encode_scaled(const Context& context, const std::int64_t* coeffs, std::size_t count,
                                             const std::vector<std::uint64_t>& factor) {
  require_supported(context);
  return from(context, PlaintextNtt::encode_scaled(context, coeffs, count, factor));
}

PlaintextNtt32 PlaintextNtt32::from(const Context& context, const PlaintextNtt& pt) {
  require_supported(context);
  check_poly(pt.poly(), context, "plaintext to narrow");
  require(pt.poly().is_ntt_form(), ErrorCode::invalid_argument, "plaintext to narrow is not in NTT form");
  PlaintextNtt32 out;
  out.param_id_ = context.param_id();
  out.n_ = context.poly_degree();
  out.k_ = context.moduli_count();
  const std::uint64_t* src = pt.poly().data();
  out.data_.resize(pt.poly().size());
  // Exact: every residue is < q_i < 2^32 (RnsPoly invariant).
  for (std::size_t j = 0; j < out.data_.size(); ++j) out.data_[j] = static_cast<std::uint32_t>(src[j]);
  return out;
}

PlaintextNtt PlaintextNtt32::widen(const Context& context) const {
  check_plaintext(*this, context, "plaintext to widen");
  PlaintextNtt pt;
  pt.poly_ = RnsPoly(context, true);
  std::copy(data_.begin(), data_.end(), pt.poly_.data());
  return pt;
}

void check_plaintext(const PlaintextNtt32& pt, const Context& context, const char* what) {
  context.check_param_id(pt.param_id(), what);
  require(pt.poly_degree() == context.poly_degree() && pt.moduli_count() == context.moduli_count() &&
              pt.size() == context.poly_degree() * context.moduli_count(),
          ErrorCode::parameter_mismatch, std::string(what) + " has the wrong shape for its context");
}

}  // namespace fhellm::he
