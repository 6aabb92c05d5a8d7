// One mask for several bodies: g ciphertexts under the session secret s
// become one mask A and g bodies B_y under g fresh secrets t_y:
//   B_y + A t_y = c0_y + c1_y s + noise   (y < g).
// The reply of the encrypted product then carries N mask values per GROUP of
// packed ciphertexts instead of per ciphertext (docs/linear.md section 2).
//
// Construction: a key switch whose key masks are shared by every target. For
// source x < g and gadget digit d, the key holds one mask alpha_{x,d} (from a
// public seed) and g bodies
//   beta_{x,d,y} = e - alpha_{x,d} t_y + [x = y] g_d s,
// and the switch computes A = sum_{x,d} digit_d(c1x) alpha_{x,d} and
// B_y = c0_y + sum_{x,d} digit_d(c1x) beta_{x,d,y}. Every key element is an
// RLWE sample (shared masks under independent secrets: matrix LWE), so the
// 128-bit argument of the parameter set holds. A public encryption of zero
// with one mask under every target re-randomizes the group (circuit privacy)
// without separating the masks. A group of r < g ciphertexts uses sources and
// targets 0..r-1 of the same key. Key size: g^2 x digits polynomials.
//
// Byte layout of save() (little-endian): "FHSM" u16 version (2) u16 param id,
// u8 w, u8 g, 2 reserved zero bytes, then 32-byte seeds of alpha_x for x < g
// and of the zero's mask, then the bodies in NTT form, residues bit-packed at
// bit_width_for_modulus(q_i) and each < q_i: beta_{x,d,y} for x, then d
// (prime-major, as KeySwitchKey), then y; then the zero's g bodies.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/keys.h"
#include "he/prng.h"

namespace fhellm::he {

struct SharedMaskKey {
  ParamId param_id{};
  int decomposition_bits = 0;
  // to[x][y]: source x switched to target y (key masks alpha_x, shared by y).
  std::vector<std::vector<KeySwitchKey>> to;
  // Public encryption of zero under every target with one mask:
  // (z, z t_y + e_y) in NTT form.
  Seed zero_seed{};
  RnsPoly zero_mask;
  std::vector<RnsPoly> zero_bodies;
  std::size_t group() const noexcept { return to.size(); }
};

// Targets: the g >= 2 fresh secrets. w = 0 picks the set's default width.
// @throws Error(parameter_mismatch) when a key belongs to another parameter
// set, Error(invalid_argument) for fewer than 2 or more than 16 targets.
SharedMaskKey make_shared_mask_key(const Context& context, const SecretKey& source,
                                   const std::vector<SecretKey>& targets, int decomposition_bits = 0);

// cts: 2..g ciphertexts under the source secret (either form). Returns them in
// coefficient form under targets 0..r-1 with identical c1, re-randomized by
// u * zero for a fresh ternary u from `rng` (the same u for all, so the masks
// stay equal) plus fresh errors: one on the mask, one on each body. @throws Error(invalid_argument) for a count outside 2..g.
void shared_mask_switch(const Context& context, const SharedMaskKey& key, std::vector<Ciphertext*> cts, Prng& rng);

std::vector<std::uint8_t> save(const SharedMaskKey& key, const Context& context);
// @throws Error(bad_magic|bad_version|truncated|trailing_bytes|coefficient_out_of_range|parameter_mismatch|bad_message).
SharedMaskKey load_shared_mask_key(const Context& context, std::span<const std::uint8_t> bytes);

}  // namespace fhellm::he
