#include "he/ciphertext.h"

#include <string>

#include "fhellm/error.h"
#include "internal.h"

namespace fhellm::he {

RnsPoly expand_seed(const Context& context, const Seed& seed) {
  RnsPoly a(context, true);
  expand_seed_into(context, seed, a);
  return a;
}

void expand_seed_into(const Context& context, const Seed& seed, RnsPoly& a) {
  if (a.param_id() != context.param_id() || a.size() != context.poly_degree() * context.moduli_count()) {
    a = RnsPoly(context, true);
  }
  a.set_ntt_form(true);
  Prng prng(seed);
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    prng.fill_uniform_below(context.modulus(i).value(), a.residues(i), context.poly_degree());
  }
}

Ciphertext expand(const Context& context, const SeededCiphertext& seeded) {
  check_poly(seeded.c0, context, "seeded ciphertext");
  require(seeded.c0.is_ntt_form(), ErrorCode::parameter_mismatch, "seeded ciphertext body is not in NTT form");
  Ciphertext ct;
  ct.c0 = seeded.c0;
  ct.c1 = expand_seed(context, seeded.seed);
  return ct;
}

void check_ciphertext(const Ciphertext& ct, const Context& context, const char* what) {
  check_poly(ct.c0, context, what);
  check_poly(ct.c1, context, what);
  require(ct.c0.is_ntt_form() == ct.c1.is_ntt_form(), ErrorCode::parameter_mismatch,
          std::string(what) + ": c0 and c1 are in different forms");
}

}  // namespace fhellm::he
