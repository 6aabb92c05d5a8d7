// One mask for two bodies: two ciphertexts under the session secret s become
// one mask A and two bodies B_a, B_b under two fresh secrets t1, t2:
//   B_a + A t1 = c0a + c1a s + noise,   B_b + A t2 = c0b + c1b s + noise.
// The reply of the encrypted product then carries N mask values per PAIR of
// packed ciphertexts instead of per ciphertext (docs/linear.md section 2).
//
// Construction: a key switch whose key masks are shared by both targets. For
// source x in {a, b} and gadget digit d, the key holds one mask alpha_{x,d}
// and two bodies
//   beta_{x,d,1} = e - alpha_{x,d} t1 + [x = a] g_d s,
//   beta_{x,d,2} = e - alpha_{x,d} t2 + [x = b] g_d s,
// and the switch computes A = sum_{x,d} digit_d(c1x) alpha_{x,d},
// B_a = c0a + sum_{x,d} digit_d(c1x) beta_{x,d,1}, B_b likewise with beta_2.
// Every key element is an RLWE sample (shared masks under independent
// secrets: matrix LWE), so the 128-bit argument of the parameter set holds.
// A public encryption of zero with one mask under both targets re-randomizes
// the pair (circuit privacy) without separating the masks.
//
// Byte layout of save() (little-endian): "FHSM" u16 version (1) u16 param id,
// u8 w, 3 reserved zero bytes, then 32-byte seeds of alpha_a, alpha_b and of
// the zero's mask, then the bodies in NTT form, residues bit-packed at
// bit_width_for_modulus(q_i) and each < q_i: beta_{a,d,1}, beta_{a,d,2},
// beta_{b,d,1}, beta_{b,d,2} for every digit d (prime-major, as KeySwitchKey),
// then the zero's two bodies.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fhellm/he/ciphertext.h"
#include "fhellm/he/context.h"
#include "fhellm/he/keys.h"
#include "fhellm/he/prng.h"

namespace fhellm::he {

struct SharedMaskKey {
  ParamId param_id{};
  int decomposition_bits = 0;
  // to_first.a == zero_second.a (alpha_a); to_second.a == zero_first.a (alpha_b).
  KeySwitchKey to_first;     // source a: s -> t1
  KeySwitchKey zero_second;  // source a: 0 under t2
  KeySwitchKey to_second;    // source b: s -> t2
  KeySwitchKey zero_first;   // source b: 0 under t1
  // Public encryption of zero under (t1, t2) with one mask: (z1, z1 t1 + e, z1 t2 + e') in NTT form.
  Seed zero_seed{};
  RnsPoly zero_mask, zero_first_body, zero_second_body;
};

// @throws Error(parameter_mismatch) when a key belongs to another parameter set.
SharedMaskKey make_shared_mask_key(const Context& context, const SecretKey& source, const SecretKey& first,
                                   const SecretKey& second, int decomposition_bits = 0);

// a, b: coefficient-form ciphertexts under the source secret. Returns them
// under (t1, t2) with identical c1, re-randomized by u * zero for a fresh
// ternary u from `rng` (the same u for both, so the masks stay equal).
void shared_mask_switch(const Context& context, const SharedMaskKey& key, Ciphertext& a, Ciphertext& b, Prng& rng);

std::vector<std::uint8_t> save(const SharedMaskKey& key, const Context& context);
// @throws Error(bad_magic|bad_version|truncated|trailing_bytes|coefficient_out_of_range|parameter_mismatch|bad_message).
SharedMaskKey load_shared_mask_key(const Context& context, std::span<const std::uint8_t> bytes);

}  // namespace fhellm::he
