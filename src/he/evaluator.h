// Homomorphic operations on Ciphertexts (phase c0 + c1 * s). SEAL-style
// op(a, b, out) / op_inplace(a, b) pairs. Every public operation checks the
// parameter ids and forms of its operands (Error(parameter_mismatch)); the
// kernels under it do not check anything.
//
// Forms: add/sub/negate need both operands in the same form; plaintext
// products need NTT form; multiply_monomial and apply_galois work in either
// form and keep it.
#pragma once

#include <cstdint>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/keys.h"
#include "he/plaintext.h"

namespace fhellm::he {

class Evaluator {
 public:
  explicit Evaluator(ContextPtr context);
  const ContextPtr& context() const noexcept { return context_; }

  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  void negate_inplace(Ciphertext& a) const;
  // a * c for a constant c of R_Q given by its residues (factor[i] < q_i),
  // in either form: the phase is multiplied by c.
  // @throws Error(invalid_argument) unless factor has one reduced value per prime.
  void multiply_scalar_inplace(Ciphertext& a, const std::vector<std::uint64_t>& factor) const;
  void add(const Ciphertext& a, const Ciphertext& b, Ciphertext& out) const;
  void sub(const Ciphertext& a, const Ciphertext& b, Ciphertext& out) const;

  void transform_to_ntt_inplace(Ciphertext& ct) const;
  void transform_from_ntt_inplace(Ciphertext& ct) const;

  // ct * pt (ct in NTT form): the phase becomes phase * w exactly in R_Q.
  void multiply_plain_inplace(Ciphertext& ct, const PlaintextNtt& pt) const;
  void multiply_plain(const Ciphertext& ct, const PlaintextNtt& pt, Ciphertext& out) const;
  // acc += ct * pt, all in NTT form (acc must already be shaped; reduced each
  // call: see CiphertextAccumulator for the lazy version).
  void multiply_plain_add(const Ciphertext& ct, const PlaintextNtt& pt, Ciphertext& acc) const;

  // ct * X^exponent for any integer exponent (taken mod 2N).
  void multiply_monomial_inplace(Ciphertext& ct, std::int64_t exponent) const;

  // X -> X^g on one polynomial, in either form (out gets the same form).
  // @throws Error(invalid_argument) unless g is odd and < 2N.
  void apply_automorphism(const RnsPoly& in, std::uint64_t galois_elt, RnsPoly& out) const;

  // Key switching of one polynomial: c (coefficient form) multiplied by the
  // key's source secret s' becomes (out0, out1), NTT form, with
  // out0 + out1 * s = c * s' + small noise. out0/out1 are overwritten.
  void key_switch(const RnsPoly& c, const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1) const;

  // ct(X) -> ct(X^g), key-switched back to s: decrypts to m(X^g).
  // @throws Error(missing_galois_key).
  void apply_galois_inplace(Ciphertext& ct, std::uint64_t galois_elt, const GaloisKeys& keys) const;
  // The same into `out` (in unchanged; out may be in): no copy of the input
  // where both are needed after (the packing tree's unpaired merges).
  void apply_galois(const Ciphertext& in, std::uint64_t galois_elt, const GaloisKeys& keys, Ciphertext& out) const;

  // Rounds c0 to body_modulus and c1 to mask_modulus (each any integer in
  // [2, 2^61), independently): c' = round(c * q' / Q). Input in either form.
  // Added error: body <= 1/2 (units of q_body); mask <= ||s||_1 / 2 (units of
  // q_mask); see docs/noise.md. @throws Error(invalid_argument).
  SwitchedCiphertext switch_modulus(const Ciphertext& ct, std::uint64_t body_modulus,
                                    std::uint64_t mask_modulus) const;

  // @throws Error(parameter_mismatch) unless `key` fits this context's
  // gadget (its base, width, digit count and words); DecomposedPoly's key
  // switches check their keys with it too.
  void check_key(const KeySwitchKey& key) const;

 private:
  void check_same(const Ciphertext& a, const Ciphertext& b, const char* what) const;
  // Same errors as check_poly / check_ciphertext, without building their
  // messages unless a check fails (these run on every packing-tree step).
  void check_poly_fast(const RnsPoly& poly, const char* what) const;
  void check_ciphertext_fast(const Ciphertext& ct, const char* what) const;
  // key_switch without the checks; c must not alias out0 / out1.
  // c_ntt: c in NTT form when the caller has it (saves transforms; see
  // gadget_digits_words32).
  void key_switch_unchecked(const RnsPoly& c, const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1,
                            const RnsPoly* c_ntt = nullptr) const;
  ContextPtr context_;
};

}  // namespace fhellm::he
