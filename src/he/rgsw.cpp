#include "he/rgsw.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::he {

SelectionKey make_selection_key(const Evaluator& ev, std::vector<Ciphertext> scaled_gadget, int decomposition_bits,
                                const KeySwitchKey& square) {
  const Context& ctx = *ev.context();
  SelectionKey key;
  for (KeySwitchKey* half : {&key.times_one, &key.times_secret}) {
    half->decomposition_bits = decomposition_bits;
    half->digits_per_prime = gadget_digits(ctx, decomposition_bits);
  }
  std::size_t digits = 0;
  for (std::size_t l : key.times_one.digits_per_prime) digits += l;
  require(scaled_gadget.size() == digits, ErrorCode::invalid_argument,
          "selection key: " + std::to_string(scaled_gadget.size()) + " encryptions for " + std::to_string(digits) +
              " gadget digits");
  for (Ciphertext& a : scaled_gadget) {
    if (!a.is_ntt_form()) ev.transform_to_ntt_inplace(a);
    // times s: (0, c0) + key_switch(c1, s^2 -> s).
    RnsPoly c1 = a.c1;
    from_ntt(c1, ctx);
    Ciphertext b(ctx, true);
    ev.key_switch(c1, square, b.c0, b.c1);
    Ciphertext shifted(ctx, true);
    shifted.c1 = a.c0;
    ev.add_inplace(b, shifted);
    key.times_one.b.push_back(std::move(a.c0));
    key.times_one.a.push_back(std::move(a.c1));
    key.times_secret.b.push_back(std::move(b.c0));
    key.times_secret.a.push_back(std::move(b.c1));
  }
  return key;
}

Ciphertext external_product(const Evaluator& ev, const Ciphertext& ct, const SelectionKey& key) {
  const Context& ctx = *ev.context();
  RnsPoly c0 = ct.c0, c1 = ct.c1;
  from_ntt(c0, ctx);
  from_ntt(c1, ctx);
  Ciphertext out(ctx, true), part(ctx, true);
  ev.key_switch(c0, key.times_one, out.c0, out.c1);
  ev.key_switch(c1, key.times_secret, part.c0, part.c1);
  ev.add_inplace(out, part);
  return out;
}

Ciphertext select(const Evaluator& ev, const SelectionKey& key, const Ciphertext& zero, const Ciphertext& one) {
  Ciphertext diff = one;
  ev.sub_inplace(diff, zero);
  Ciphertext out = external_product(ev, diff, key);
  ev.add_inplace(out, zero);
  return out;
}

}  // namespace fhellm::he
