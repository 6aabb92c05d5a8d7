#include "he/rns_poly.h"

#include <algorithm>
#include <string>

#include "fhellm/error.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"

namespace fhellm::he {

RnsPoly::RnsPoly(const Context& context, bool ntt_form)
    : param_id_(context.param_id()),
      n_(context.poly_degree()),
      k_(context.moduli_count()),
      ntt_form_(ntt_form),
      data_(context.poly_degree() * context.moduli_count(), 0) {}

RnsPoly::RnsPoly(const Context& context, bool ntt_form, Uninitialized)
    : param_id_(context.param_id()), n_(context.poly_degree()), k_(context.moduli_count()), ntt_form_(ntt_form) {
  data_.resize(n_ * k_);  // default-initialized: no zero fill
}

void RnsPoly::set_zero() noexcept { std::fill(data_.begin(), data_.end(), 0); }

RnsPoly RnsPoly::from_signed(const Context& context, const std::int64_t* coeffs, std::size_t count) {
  require(count <= context.poly_degree(), ErrorCode::invalid_argument,
          std::to_string(count) + " coefficients for a polynomial of degree " + std::to_string(context.poly_degree()));
  RnsPoly poly(context, false);
  for (std::size_t i = 0; i < poly.k_; ++i) {
    const math::Modulus& q = context.modulus(i);
    std::uint64_t* r = poly.residues(i);
    for (std::size_t j = 0; j < count; ++j) r[j] = q.from_signed(coeffs[j]);
  }
  return poly;
}

void to_ntt(RnsPoly& poly, const Context& context) {
  if (poly.is_ntt_form()) return;
  for (std::size_t i = 0; i < poly.moduli_count(); ++i) math::ntt_forward(poly.residues(i), context.ntt_tables(i));
  poly.set_ntt_form(true);
}

void from_ntt(RnsPoly& poly, const Context& context) {
  if (!poly.is_ntt_form()) return;
  for (std::size_t i = 0; i < poly.moduli_count(); ++i) inverse_ntt_residues(poly.residues(i), context, i);
  poly.set_ntt_form(false);
}

void inverse_ntt_residues(std::uint64_t* values, const Context& context, std::size_t prime) {
  const math::NttTables& tables = context.ntt_tables(prime);
  if (math::ntt32_available(tables)) math::ntt_inverse_via32(values, math::ntt_tables32(tables));
  else math::ntt_inverse(values, tables);
}

void check_poly(const RnsPoly& poly, const Context& context, const char* what) {
  context.check_param_id(poly.param_id(), what);
  require(poly.poly_degree() == context.poly_degree() && poly.moduli_count() == context.moduli_count() &&
              poly.size() == context.poly_degree() * context.moduli_count(),
          ErrorCode::parameter_mismatch, std::string(what) + " has the wrong shape for its context");
}

}  // namespace fhellm::he
