// Rounding a polynomial mod Q to a smaller modulus, coefficientwise: the
// modulus switch of replies (Evaluator::switch_modulus) and of uploaded
// bodies (Encryptor::encrypt_poly_rounded).
#pragma once

#include <cstdint>

#include "he/context.h"
#include "he/rns_poly.h"
#include "math/modulus.h"
#include "math/rns.h"

namespace fhellm::he {

// Coefficient j of a polynomial mod Q < 2^63 (coefficient form, given by its
// residues) as the word x in [0, Q): Garner's formula for two primes, x = x1
// + q1 ((x0 - x1) q1^-1 mod q0), else the sum over the punctured products,
// reduced. Shared by the rounding below and the decryptor.
class CrtWord {
 public:
  // @throws Error(invalid_argument) for Q >= 2^63.
  explicit CrtWord(const Context& ctx);
  std::uint64_t operator()(const RnsPoly& poly, std::size_t j) const noexcept;
  std::uint64_t modulus() const noexcept { return q64_; }

 private:
  const Context& ctx_;
  std::uint64_t q64_ = 0;
  math::ShoupConstant garner_;  // q1^-1 mod q0 (two primes)
  std::uint64_t punctured_[math::RnsBasis::kMaxModuli] = {};
};

// out[j] = round(x_j target / Q) mod target for every coefficient x_j in
// [0, Q) of `poly` (coefficient form, given by its residues); 2 <= target <
// 2^61. Exact for every Q of the parameter sets: two primes with Q < 2^63
// take Garner's reconstruction and a corrected double estimate, larger Q a
// long double estimate made exact where it comes near a rounding point.
// @throws Error(invalid_argument) for a target outside [2, 2^61) or a poly
//         in NTT form.
void round_coefficients(const Context& ctx, const RnsPoly& poly, std::uint64_t target, std::uint64_t* out);

}  // namespace fhellm::he
