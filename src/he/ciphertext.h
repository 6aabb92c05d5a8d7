// Ciphertexts, in three shapes:
//  - Ciphertext: (c0, c1) over R_Q with phase c0 + c1 * s; both polys in the
//    same form (coefficient or NTT). What the evaluator works on.
//  - SeededCiphertext: the upload form of a fresh encryption: c0 in NTT form
//    plus the 32-byte seed that expands into c1, uniform, directly in NTT
//    form. Expansion (fixed, part of the format): keystream of AES-256-CTR
//    with key = seed and a zero 16-byte IV, read as little-endian 64-bit
//    words; for each prime q_i in order, slots 0..N-1 in order take the next
//    word masked to bits(q_i - 1) bits, skipping words >= q_i (rejection).
//    Half the bytes of a Ciphertext.
//  - SwitchedCiphertext: the download form: c1 (the mask) rounded to a word
//    modulus mask_modulus and c0 (the body) to body_modulus, chosen separately
//    (any integers in [2, 2^61)), both in coefficient form. Decrypts through
//    the torus: c0/q_body + c1*s/q_mask = (Delta m + e)/Q (mod 1).
#pragma once

#include <cstdint>
#include <vector>

#include "he/context.h"
#include "he/prng.h"
#include "he/rns_poly.h"

namespace fhellm::he {

struct Ciphertext {
  RnsPoly c0;
  RnsPoly c1;

  Ciphertext() = default;
  Ciphertext(const Context& context, bool ntt_form) : c0(context, ntt_form), c1(context, ntt_form) {}
  // Values left to the caller (see RnsPoly's Uninitialized constructor).
  Ciphertext(const Context& context, bool ntt_form, Uninitialized)
      : c0(context, ntt_form, kUninitialized), c1(context, ntt_form, kUninitialized) {}

  ParamId param_id() const noexcept { return c0.param_id(); }
  bool is_ntt_form() const noexcept { return c0.is_ntt_form(); }
  friend bool operator==(const Ciphertext& a, const Ciphertext& b) noexcept { return a.c0 == b.c0 && a.c1 == b.c1; }
};

struct SeededCiphertext {
  Seed seed{};
  RnsPoly c0;  // NTT form
  ParamId param_id() const noexcept { return c0.param_id(); }
};

struct SwitchedCiphertext {
  ParamId param_id{};
  std::uint64_t body_modulus = 0;  // modulus of c0 (body)
  std::uint64_t mask_modulus = 0;  // modulus of c1 (mask)
  std::vector<std::uint64_t> c0;   // N values in [0, body_modulus)
  std::vector<std::uint64_t> c1;   // N values in [0, mask_modulus)
};

// c1 of a seeded ciphertext: the uniform polynomial (NTT form) the seed expands to.
RnsPoly expand_seed(const Context& context, const Seed& seed);
// The full ciphertext (NTT form) a seeded one stands for.
// @throws Error(parameter_mismatch) when it was made for another context.
Ciphertext expand(const Context& context, const SeededCiphertext& seeded);

// Checks ids and shapes. @throws Error(parameter_mismatch).
void check_ciphertext(const Ciphertext& ct, const Context& context, const char* what);

}  // namespace fhellm::he
