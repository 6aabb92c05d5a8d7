#include "he/serialization.h"

#include "he/gadget_decomposition.h"

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/thread_pool.h"
#include "fhellm/error.h"
#include "he/bit_packing.h"
#include "he/gadget_decomposition.h"
#include "internal.h"

namespace fhellm::he {
namespace {

constexpr std::uint8_t kMagic[4] = {'F', 'H', 'E', 'H'};
constexpr std::size_t kPayloadSizeOffset = 12;

// count values at `width` bits (bit_packing.h).
void write_packed(ByteWriter& w, const std::uint64_t* values, std::size_t count, int width) {
  pack_bits(values, count, width, w.append(packed_size_bytes(count, width)).data());
}

// count values at `width` bits, each checked < modulus.
// @throws Error(truncated | coefficient_out_of_range)
void read_packed(ByteReader& r, std::uint64_t* out, std::size_t count, int width, std::uint64_t modulus,
                 const char* field) {
  const ByteView raw = r.take(packed_size_bytes(count, width), field);
  unpack_bits(raw.data(), count, width, out);
  for (std::size_t i = 0; i < count; ++i) {
    if (out[i] >= modulus) {
      throw Error(ErrorCode::coefficient_out_of_range, r.what() + " " + field + ": coefficient " + std::to_string(i) +
                                                           " is >= its modulus " + std::to_string(modulus));
    }
  }
}

struct Header {
  ObjectType type;
  std::uint8_t flags;
  std::uint16_t raw_id;
  std::uint32_t payload;
};

void write_header(ByteWriter& w, ObjectType type, std::uint8_t flags, ParamId id) {
  w.bytes(kMagic);
  w.u16(kFormatVersion);
  w.u8(static_cast<std::uint8_t>(type));
  w.u8(flags);
  w.u16(static_cast<std::uint16_t>(id));
  w.u16(0);
  w.u32(0);  // payload size, patched by finish()
}

Bytes finish(Bytes& out) {
  ByteWriter(out).patch_u32(kPayloadSizeOffset, static_cast<std::uint32_t>(out.size() - kHeaderBytes));
  return std::move(out);
}

Header read_header(ByteReader& r, std::size_t total) {
  require(total >= kHeaderBytes, ErrorCode::truncated,
          "serialized object has " + std::to_string(total) + " bytes, the header alone needs 16");
  require(std::memcmp(r.take(4, "magic").data(), kMagic, 4) == 0, ErrorCode::bad_magic, "not an fhellm HE object (bad magic)");
  const std::uint16_t version = r.u16("version");
  require(version == kFormatVersion, ErrorCode::bad_version,
          "format version " + std::to_string(version) + ", this build reads " + std::to_string(kFormatVersion));
  Header h;
  h.type = static_cast<ObjectType>(r.u8("type"));
  h.flags = r.u8("flags");
  h.raw_id = r.u16("parameter id");
  require(r.u16("reserved") == 0, ErrorCode::bad_version, "reserved header field is not zero");
  h.payload = r.u32("payload size");
  require(h.payload <= kMaxPayloadBytes, ErrorCode::length_too_large,
          "payload size " + std::to_string(h.payload) + " exceeds the maximum");
  require(h.payload <= r.remaining(), ErrorCode::truncated,
          "payload size " + std::to_string(h.payload) + " but " + std::to_string(r.remaining()) + " bytes follow");
  require(h.payload == r.remaining(), ErrorCode::trailing_bytes,
          std::to_string(r.remaining() - h.payload) + " bytes after the payload");
  return h;
}

Header expect_header(ByteReader& r, std::size_t total, ObjectType type, const Context& context, std::uint8_t allowed_flags) {
  const Header h = read_header(r, total);
  require(h.type == type, ErrorCode::parameter_mismatch,
          "object type " + std::to_string(static_cast<unsigned>(h.type)) + ", expected " +
              std::to_string(static_cast<unsigned>(type)));
  require((h.flags & ~allowed_flags) == 0, ErrorCode::parameter_mismatch, "unexpected header flags");
  context.check_param_id(param_id_from_u16(h.raw_id), "serialized object");
  return h;
}

void write_poly(ByteWriter& w, const RnsPoly& p, const Context& context) {
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    write_packed(w, p.residues(i), context.poly_degree(), bit_width_for_modulus(context.modulus(i).value()));
  }
}

RnsPoly read_poly(ByteReader& r, const Context& context, bool ntt_form, const char* what) {
  RnsPoly p(context, ntt_form);
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const std::uint64_t q = context.modulus(i).value();
    read_packed(r, p.residues(i), context.poly_degree(), bit_width_for_modulus(q), q, what);
  }
  return p;
}

}  // namespace

std::vector<std::uint8_t> save_parameters(const ParameterSet& params) {
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::parameters, 0, params.id);
  w.u32(static_cast<std::uint32_t>(params.poly_degree));
  w.u8(static_cast<std::uint8_t>(params.coeff_modulus.size()));
  w.u8(static_cast<std::uint8_t>(params.error_binomial_eta));
  w.u8(static_cast<std::uint8_t>(params.default_decomposition_bits));
  w.u8(0);
  for (std::uint64_t q : params.coeff_modulus) w.u64(q);
  return finish(out);
}

const ParameterSet& load_parameters(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "parameter set");
  const Header h = read_header(r, bytes.size());
  require(h.type == ObjectType::parameters, ErrorCode::parameter_mismatch, "object is not a parameter set");
  const ParameterSet& known = parameter_set(param_id_from_u16(h.raw_id));
  const std::uint32_t n = r.u32("poly_degree");
  const std::uint8_t k = r.u8("moduli count");
  require(k <= math::RnsBasis::kMaxModuli, ErrorCode::length_too_large, "too many moduli");
  const std::uint8_t eta = r.u8("eta");
  const std::uint8_t w = r.u8("decomposition bits");
  r.u8("reserved");
  std::vector<std::uint64_t> moduli(k);
  for (auto& q : moduli) q = r.u64("modulus");
  r.expect_end();
  require(n == known.poly_degree && moduli == known.coeff_modulus && eta == known.error_binomial_eta &&
              w == known.default_decomposition_bits,
          ErrorCode::bad_parameters, "parameters differ from the registered set " + std::string(known.name));
  return known;
}

ParamId peek_param_id(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "HE object");
  return param_id_from_u16(read_header(r, bytes.size()).raw_id);
}

std::vector<std::uint8_t> save(const Ciphertext& ct, const Context& context) {
  check_ciphertext(ct, context, "ciphertext");
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::ciphertext, ct.is_ntt_form() ? 1 : 0, context.param_id());
  write_poly(w, ct.c0, context);
  write_poly(w, ct.c1, context);
  return finish(out);
}

Ciphertext load_ciphertext(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "ciphertext");
  const Header h = expect_header(r, bytes.size(), ObjectType::ciphertext, context, 1);
  const bool ntt = (h.flags & 1) != 0;
  Ciphertext ct;
  ct.c0 = read_poly(r, context, ntt, "ciphertext c0");
  ct.c1 = read_poly(r, context, ntt, "ciphertext c1");
  r.expect_end();
  return ct;
}

std::vector<std::uint8_t> save(const SeededCiphertext& ct, const Context& context) {
  check_poly(ct.c0, context, "seeded ciphertext");
  require(ct.c0.is_ntt_form(), ErrorCode::invalid_argument, "seeded ciphertext body must be in NTT form");
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::seeded_ciphertext, 1, context.param_id());
  w.bytes(ct.seed);
  write_poly(w, ct.c0, context);
  return finish(out);
}

SeededCiphertext load_seeded_ciphertext(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "seeded ciphertext");
  const Header h = expect_header(r, bytes.size(), ObjectType::seeded_ciphertext, context, 1);
  require(h.flags == 1, ErrorCode::parameter_mismatch, "seeded ciphertext must be flagged NTT form");
  SeededCiphertext ct;
  r.copy_to(ct.seed, "seed");
  ct.c0 = read_poly(r, context, true, "seeded ciphertext c0");
  r.expect_end();
  return ct;
}

std::vector<std::uint8_t> save(const SwitchedCiphertext& ct) {
  require(ct.c0.size() == ct.c1.size() && ct.body_modulus >= 2 && ct.mask_modulus >= 2, ErrorCode::invalid_argument,
          "malformed switched ciphertext");
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::switched_ciphertext, 0, ct.param_id);
  w.u64(ct.body_modulus);
  w.u64(ct.mask_modulus);
  write_packed(w, ct.c0.data(), ct.c0.size(), bit_width_for_modulus(ct.body_modulus));
  write_packed(w, ct.c1.data(), ct.c1.size(), bit_width_for_modulus(ct.mask_modulus));
  return finish(out);
}

SwitchedCiphertext load_switched_ciphertext(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "switched ciphertext");
  expect_header(r, bytes.size(), ObjectType::switched_ciphertext, context, 0);
  SwitchedCiphertext ct;
  ct.param_id = context.param_id();
  ct.body_modulus = r.u64("body modulus");
  ct.mask_modulus = r.u64("mask modulus");
  const std::uint64_t limit = std::uint64_t{1} << 61;
  require(ct.body_modulus >= 2 && ct.body_modulus < limit && ct.mask_modulus >= 2 && ct.mask_modulus < limit,
          ErrorCode::bad_parameters, "switched moduli outside [2, 2^61)");
  const std::size_t n = context.poly_degree();
  ct.c0.resize(n);
  ct.c1.resize(n);
  read_packed(r, ct.c0.data(), n, bit_width_for_modulus(ct.body_modulus), ct.body_modulus, "switched c0");
  read_packed(r, ct.c1.data(), n, bit_width_for_modulus(ct.mask_modulus), ct.mask_modulus, "switched c1");
  r.expect_end();
  return ct;
}

std::vector<std::uint8_t> save(const SecretKey& sk) {
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::secret_key, 0, sk.param_id());
  std::vector<std::uint64_t> codes(sk.coefficients().size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const int c = sk.coefficients()[i];
    codes[i] = c == 0 ? 0 : (c == 1 ? 1 : 2);
  }
  write_packed(w, codes.data(), codes.size(), 2);
  return finish(out);
}

SecretKey load_secret_key(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "secret key");
  expect_header(r, bytes.size(), ObjectType::secret_key, context, 0);
  const std::size_t n = context.poly_degree();
  std::vector<std::uint64_t> codes(n);
  read_packed(r, codes.data(), n, 2, 3, "secret key");
  r.expect_end();
  std::vector<std::int8_t> coeffs(n);
  for (std::size_t i = 0; i < n; ++i) coeffs[i] = codes[i] == 0 ? 0 : (codes[i] == 1 ? 1 : -1);
  return SecretKey::from_coefficients(context, std::move(coeffs));
}

namespace {

// A key's gadget byte (params.h's GadgetBase); other values are a format this
// build does not read.
GadgetBase read_gadget_base(ByteReader& r) {
  const std::uint8_t raw = r.u8("gadget base");
  require(raw <= static_cast<std::uint8_t>(GadgetBase::composed), ErrorCode::bad_version,
          "unknown gadget base " + std::to_string(raw));
  return static_cast<GadgetBase>(raw);
}

// Digits of a serialized key's gadget, checked against the context.
std::size_t checked_gadget_digits(const Context& context, int w_bits, GadgetBase base) {
  require(w_bits >= 1 && w_bits <= 61, ErrorCode::bad_parameters, "decomposition bits outside [1, 61]");
  require(base == GadgetBase::per_prime || composed_gadget_supported(context, w_bits), ErrorCode::bad_parameters,
          "a composed gadget of " + std::to_string(w_bits) + " bits is not supported on " +
              std::string(context.params().name));
  return gadget_digit_count(context.params(), Gadget{w_bits, base});
}

}  // namespace

std::vector<std::uint8_t> save(const GaloisKeys& keys, const Context& context) {
  require(keys.keys().size() <= kMaxGaloisKeys, ErrorCode::length_too_large, "too many Galois keys");
  int w_bits = 0;
  GadgetBase base = GadgetBase::per_prime;
  for (const auto& [g, key] : keys.keys()) {
    require((w_bits == 0 || w_bits == key.decomposition_bits) && (w_bits == 0 || base == key.base),
            ErrorCode::invalid_argument, "Galois keys with different gadgets cannot be saved together");
    w_bits = key.decomposition_bits;
    base = key.base;
    require(key.b.size() == key.digit_count(), ErrorCode::invalid_argument,
            "Galois keys held in their 32-bit words only (a server's loaded session) cannot be saved");
  }
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::galois_keys, 1, context.param_id());
  w.u32(static_cast<std::uint32_t>(keys.keys().size()));
  w.u8(static_cast<std::uint8_t>(w_bits));
  w.u8(static_cast<std::uint8_t>(base));
  w.u8(0);
  w.u8(0);
  for (const auto& [g, key] : keys.keys()) {
    w.u32(static_cast<std::uint32_t>(g));
    w.bytes(key.a_seed);
    for (const RnsPoly& b : key.b) write_poly(w, b, context);
  }
  return finish(out);
}

GaloisKeys load_galois_keys(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "Galois keys");
  const Header h = expect_header(r, bytes.size(), ObjectType::galois_keys, context, 1);
  require(h.flags == 1, ErrorCode::parameter_mismatch, "Galois keys must be flagged NTT form");
  const std::uint32_t count = r.u32("key count");
  require(count <= kMaxGaloisKeys, ErrorCode::length_too_large,
          "Galois key count " + std::to_string(count) + " exceeds " + std::to_string(kMaxGaloisKeys));
  const int w_bits = r.u8("decomposition bits");
  const GadgetBase base = read_gadget_base(r);
  for (int i = 0; i < 2; ++i) require(r.u8("reserved") == 0, ErrorCode::bad_version, "reserved bytes not zero");
  GaloisKeys keys;
  if (count == 0) {
    r.expect_end();
    return keys;
  }
  const std::size_t total = checked_gadget_digits(context, w_bits, base);
  const std::vector<std::size_t> digits =
      base == GadgetBase::per_prime ? gadget_digits(context, w_bits) : std::vector<std::size_t>{};
  // Check the whole size before allocating any key.
  const std::size_t per_key = 4 + 32 + total * rns_poly_bytes(context);
  require(r.remaining() == per_key * count, r.remaining() < per_key * count ? ErrorCode::truncated : ErrorCode::trailing_bytes,
          "Galois keys payload has " + std::to_string(r.remaining()) + " bytes, " + std::to_string(count) +
              " keys need " + std::to_string(per_key * count));
  // The elements in order (the checks read them all before any key is
  // parsed), then each key's polynomials and its masks' expansion from the
  // seed on the default pool: the bulk of a session's opening.
  std::vector<std::uint32_t> elements(count);
  std::vector<ByteView> bodies(count);
  std::set<std::uint32_t> seen;
  for (std::uint32_t t = 0; t < count; ++t) {
    const std::uint32_t g = r.u32("Galois element");
    require((g & 1) == 1 && g >= 3 && g < 2 * context.poly_degree(), ErrorCode::bad_parameters,
            "Galois element " + std::to_string(g) + " is not odd in [3, 2N)");
    require(seen.insert(g).second, ErrorCode::bad_parameters, "duplicate Galois element " + std::to_string(g));
    elements[t] = g;
    bodies[t] = r.take(per_key - 4, "Galois key");
  }
  r.expect_end();
  std::vector<KeySwitchKey> parsed(count);
  default_thread_pool().run(count, default_thread_pool().max_threads(), [&](std::size_t t) {
    ByteReader kr(bodies[t], "Galois keys");
    KeySwitchKey& key = parsed[t];
    key.decomposition_bits = w_bits;
    key.base = base;
    key.digits_per_prime = digits;
    kr.copy_to(key.a_seed, "key seed");
    for (std::size_t d = 0; d < total; ++d) key.b.push_back(read_poly(kr, context, true, "Galois key"));
    key.a = expand_key_masks(context, key.a_seed, total);
  });
  for (std::uint32_t t = 0; t < count; ++t) keys.insert(context.param_id(), elements[t], std::move(parsed[t]));
  return keys;
}

std::vector<std::uint8_t> save(const KeySwitchKey& key, const Context& context) {
  require(key.b.size() == key.digit_count(), ErrorCode::invalid_argument,
          "a key held in its 32-bit words only (a server's loaded session) cannot be saved");
  Bytes out;
  ByteWriter w(out);
  write_header(w, ObjectType::key_switch_key, 1, context.param_id());
  w.u8(static_cast<std::uint8_t>(key.decomposition_bits));
  w.u8(static_cast<std::uint8_t>(key.base));
  w.u8(0);
  w.u8(0);
  w.bytes(key.a_seed);
  for (const RnsPoly& b : key.b) write_poly(w, b, context);
  return finish(out);
}

KeySwitchKey load_key_switch_key(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "key switching key");
  const Header h = expect_header(r, bytes.size(), ObjectType::key_switch_key, context, 1);
  require(h.flags == 1, ErrorCode::parameter_mismatch, "key switching key must be flagged NTT form");
  const int w_bits = r.u8("decomposition bits");
  const GadgetBase base = read_gadget_base(r);
  for (int i = 0; i < 2; ++i) require(r.u8("reserved") == 0, ErrorCode::bad_version, "reserved bytes not zero");
  KeySwitchKey key;
  const std::size_t total = checked_gadget_digits(context, w_bits, base);
  key.decomposition_bits = w_bits;
  key.base = base;
  if (base == GadgetBase::per_prime) key.digits_per_prime = gadget_digits(context, w_bits);
  const std::size_t need = 32 + total * rns_poly_bytes(context);
  require(r.remaining() == need, r.remaining() < need ? ErrorCode::truncated : ErrorCode::trailing_bytes,
          "key switching key payload has " + std::to_string(r.remaining()) + " bytes, needs " + std::to_string(need));
  r.copy_to(key.a_seed, "key seed");
  for (std::size_t d = 0; d < total; ++d) key.b.push_back(read_poly(r, context, true, "key switching key"));
  key.a = expand_key_masks(context, key.a_seed, total);
  r.expect_end();
  return key;
}

std::size_t rns_poly_bytes(const Context& context) {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    bytes += packed_size_bytes(context.poly_degree(), bit_width_for_modulus(context.modulus(i).value()));
  }
  return bytes;
}

std::size_t seeded_ciphertext_bytes(const Context& context) { return kHeaderBytes + 32 + rns_poly_bytes(context); }

std::size_t switched_ciphertext_bytes(std::size_t poly_degree, std::uint64_t body_modulus, std::uint64_t mask_modulus) {
  return kHeaderBytes + 16 + packed_size_bytes(poly_degree, bit_width_for_modulus(body_modulus)) +
         packed_size_bytes(poly_degree, bit_width_for_modulus(mask_modulus));
}

}  // namespace fhellm::he
