// Binary serialization of parameters, keys and ciphertexts.
//
// Every object starts with a 16-byte header (all integers little-endian):
//   offset size field
//   0      4    magic "FHEH"
//   4      2    format version (kFormatVersion = 1)
//   6      1    object type (ObjectType)
//   7      1    flags: bit 0 = polynomials in NTT form; other bits zero
//   8      2    parameter id (ParamId)
//   10     2    reserved, zero
//   12     4    payload size in bytes (exactly the bytes that follow)
// Payloads ("RNS poly" = for each prime q_i in order, N values bit-packed at
// width bits(q_i - 1) as in bit_packing.h, each prime's block padded to a
// whole byte):
//   parameters         u32 N, u8 k, u8 eta, u8 default w, u8 0, k x u64 q_i
//   ciphertext         RNS poly c0, RNS poly c1
//   seeded ciphertext  32-byte seed, RNS poly c0 (NTT form)
//   switched ct        u64 body_modulus, u64 mask_modulus, N values of c0 at
//                      bits(body_modulus - 1), padded; N values of c1 at
//                      bits(mask_modulus - 1), padded
//   secret key         N values at 2 bits: 0 -> 0, 1 -> +1, 2 -> -1 (3 invalid)
//   galois keys        u32 count (<= kMaxGaloisKeys), u8 w, 3 zero bytes, then
//                      per key: u32 galois element, 32-byte a-seed, then
//                      sum_i ceil(bits(q_i)/w) RNS polys b_ij (NTT form)
//   key switching key  u8 w, 3 zero bytes, 32-byte a-seed, then
//                      sum_i ceil(bits(q_i)/w) RNS polys b_ij (NTT form)
// Loading parses, checks every length against the bytes present and hard
// maxima before allocating, checks every coefficient < its modulus, then
// validates against the context. Errors (fhellm::Error codes):
//   truncated, bad_magic, bad_version, unknown_parameter_id,
//   parameter_mismatch (object for another set / wrong type / flags),
//   length_too_large, coefficient_out_of_range, trailing_bytes, bad_parameters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/keys.h"
#include "he/params.h"

namespace fhellm::he {

inline constexpr std::uint16_t kFormatVersion = 1;
inline constexpr std::size_t kHeaderBytes = 16;
inline constexpr std::uint32_t kMaxGaloisKeys = 64;
inline constexpr std::uint32_t kMaxPayloadBytes = 1u << 30;

enum class ObjectType : std::uint8_t {
  parameters = 1,
  ciphertext = 2,
  seeded_ciphertext = 3,
  switched_ciphertext = 4,
  secret_key = 5,
  galois_keys = 6,
  key_switch_key = 7,
};

std::vector<std::uint8_t> save_parameters(const ParameterSet& params);
std::vector<std::uint8_t> save(const Ciphertext& ct, const Context& context);
std::vector<std::uint8_t> save(const SeededCiphertext& ct, const Context& context);
std::vector<std::uint8_t> save(const SwitchedCiphertext& ct);
std::vector<std::uint8_t> save(const SecretKey& sk);
std::vector<std::uint8_t> save(const GaloisKeys& keys, const Context& context);
std::vector<std::uint8_t> save(const KeySwitchKey& key, const Context& context);

// The parameter id in a serialized object's header (checks magic, version,
// sizes first). @throws as above.
ParamId peek_param_id(std::span<const std::uint8_t> bytes);

// @throws Error as listed at the top of this file.
const ParameterSet& load_parameters(std::span<const std::uint8_t> bytes);
Ciphertext load_ciphertext(const Context& context, std::span<const std::uint8_t> bytes);
SeededCiphertext load_seeded_ciphertext(const Context& context, std::span<const std::uint8_t> bytes);
SwitchedCiphertext load_switched_ciphertext(const Context& context, std::span<const std::uint8_t> bytes);
SecretKey load_secret_key(const Context& context, std::span<const std::uint8_t> bytes);
GaloisKeys load_galois_keys(const Context& context, std::span<const std::uint8_t> bytes);
KeySwitchKey load_key_switch_key(const Context& context, std::span<const std::uint8_t> bytes);

// Sizes without serializing.
std::size_t rns_poly_bytes(const Context& context);
std::size_t seeded_ciphertext_bytes(const Context& context);
std::size_t switched_ciphertext_bytes(std::size_t poly_degree, std::uint64_t body_modulus, std::uint64_t mask_modulus);

}  // namespace fhellm::he
