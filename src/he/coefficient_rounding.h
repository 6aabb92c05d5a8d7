// Rounding a polynomial mod Q to a smaller modulus, coefficientwise: the
// modulus switch of replies (Evaluator::switch_modulus) and of uploaded
// bodies (Encryptor::encrypt_poly_rounded).
#pragma once

#include <cstdint>

#include "he/context.h"
#include "he/rns_poly.h"

namespace fhellm::he {

// out[j] = round(x_j target / Q) mod target for every coefficient x_j in
// [0, Q) of `poly` (coefficient form, given by its residues); 2 <= target <
// 2^61. Exact for every Q of the parameter sets: two primes with Q < 2^63
// take Garner's reconstruction and a corrected double estimate, larger Q a
// long double estimate made exact where it comes near a rounding point.
// @throws Error(invalid_argument) for a target outside [2, 2^61) or a poly
//         in NTT form.
void round_coefficients(const Context& ctx, const RnsPoly& poly, std::uint64_t target, std::uint64_t* out);

}  // namespace fhellm::he
