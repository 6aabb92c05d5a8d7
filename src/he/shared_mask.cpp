#include "he/shared_mask.h"

#include <cstring>
#include <string>

#include "common/bytes.h"
#include "fhellm/error.h"
#include "he/circuit_privacy.h"
#include "he/bit_packing.h"
#include "he/gadget_decomposition.h"
#include "math/poly_arith.h"
#include "internal.h"

namespace fhellm::he {
namespace {

constexpr std::uint8_t kMagic[4] = {'F', 'H', 'S', 'M'};
constexpr std::uint16_t kVersion = 2;
constexpr std::size_t kMaxGroup = 16;

// e - a t for every prime (all NTT form).
RnsPoly zero_body(const Context& ctx, const RnsPoly& a, const SecretKey& t, Prng& prng) {
  RnsPoly b = sample_error_ntt(ctx, prng);
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    std::uint64_t* br = b.residues(i);
    const std::uint64_t* ar = a.residues(i);
    const std::uint64_t* tr = t.ntt().residues(i);
    for (std::size_t j = 0; j < n; ++j) br[j] = q.sub(br[j], q.mul(ar[j], tr[j]));
  }
  return b;
}

// A key switching key for the zero message under `target` with the masks of `like`.
KeySwitchKey zero_key_with_masks(const Context& ctx, const SecretKey& target, const KeySwitchKey& like, Prng& prng) {
  KeySwitchKey key;
  key.decomposition_bits = like.decomposition_bits;
  key.digits_per_prime = like.digits_per_prime;
  key.a_seed = like.a_seed;
  key.a = like.a;
  for (const RnsPoly& a : like.a) key.b.push_back(zero_body(ctx, a, target, prng));
  return key;
}

void add_into(const Context& ctx, RnsPoly& dst, const RnsPoly& src) {
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
    math::add_mod(dst.residues(i), src.residues(i), dst.residues(i), ctx.poly_degree(), ctx.modulus(i));
}

void multiply_add_into(const Context& ctx, RnsPoly& dst, const RnsPoly& a, const RnsPoly& b) {
  std::vector<std::uint64_t> tmp(ctx.poly_degree());
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::multiply_mod(a.residues(i), b.residues(i), tmp.data(), ctx.poly_degree(), ctx.modulus(i));
    math::add_mod(dst.residues(i), tmp.data(), dst.residues(i), ctx.poly_degree(), ctx.modulus(i));
  }
}

void write_poly(ByteWriter& w, const Context& ctx, const RnsPoly& p) {
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const int width = bit_width_for_modulus(ctx.modulus(i).value());
    pack_bits(p.residues(i), ctx.poly_degree(), width, w.append(packed_size_bytes(ctx.poly_degree(), width)).data());
  }
}

// One polynomial of packed residues: every coefficient below its prime and
// the padding bits of each prime's last byte zero.
// @throws Error(truncated | coefficient_out_of_range | bad_message)
RnsPoly read_poly(ByteReader& r, const Context& ctx) {
  RnsPoly p(ctx, true);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const std::uint64_t q = ctx.modulus(i).value();
    const int width = bit_width_for_modulus(q);
    const ByteView raw = r.take(packed_size_bytes(ctx.poly_degree(), width), "key body");
    unpack_bits(raw.data(), ctx.poly_degree(), width, p.residues(i));
    for (std::size_t j = 0; j < ctx.poly_degree(); ++j)
      require(p.residues(i)[j] < q, ErrorCode::coefficient_out_of_range, "shared-mask key: coefficient >= q");
    const std::size_t used = ctx.poly_degree() * static_cast<std::size_t>(width);
    if (used % 8 != 0)
      require((raw.back() >> (used % 8)) == 0, ErrorCode::bad_message, "shared-mask key: padding not zero");
  }
  return p;
}

}  // namespace

SharedMaskKey make_shared_mask_key(const Context& context, const SecretKey& source,
                                   const std::vector<SecretKey>& targets, int decomposition_bits) {
  context.check_param_id(source.param_id(), "secret key");
  for (const SecretKey& t : targets) context.check_param_id(t.param_id(), "secret key");
  require(targets.size() >= 2 && targets.size() <= kMaxGroup, ErrorCode::invalid_argument,
          "shared-mask key: " + std::to_string(targets.size()) + " targets, expected 2.." + std::to_string(kMaxGroup));
  const int w = decomposition_bits == 0 ? context.params().default_decomposition_bits : decomposition_bits;
  const std::size_t g = targets.size();
  Prng prng(random_seed());
  SharedMaskKey key;
  key.param_id = context.param_id();
  key.decomposition_bits = w;
  key.to.assign(g, std::vector<KeySwitchKey>(g));
  for (std::size_t x = 0; x < g; ++x) {
    // Source x to its own target (fresh masks alpha_x), zero under the others with the same masks.
    key.to[x][x] = make_key_switch_key(context, targets[x], source.coefficients(), w);
    for (std::size_t y = 0; y < g; ++y)
      if (y != x) key.to[x][y] = zero_key_with_masks(context, targets[y], key.to[x][x], prng);
  }
  key.zero_seed = random_seed();
  key.zero_mask = expand_key_masks(context, key.zero_seed, 1).front();
  for (const SecretKey& t : targets) key.zero_bodies.push_back(zero_body(context, key.zero_mask, t, prng));
  return key;
}

void shared_mask_switch(const Context& context, const SharedMaskKey& key, std::vector<Ciphertext*> cts, Prng& rng) {
  context.check_param_id(key.param_id, "shared-mask key");
  const std::size_t r = cts.size();
  require(r >= 2 && r <= key.group(), ErrorCode::invalid_argument,
          "shared-mask switch: " + std::to_string(r) + " ciphertexts for groups of " + std::to_string(key.group()));
  const ContextPtr ctx = Context::get(context.param_id());
  // Each source is decomposed once and meets every target's key, whose masks
  // it shares: the mask part of every switch of source x is the same.
  RnsPoly mask(context, true);
  std::vector<RnsPoly> bodies;
  for (Ciphertext* ct : cts) {
    check_ciphertext(*ct, context, "shared-mask input");
    RnsPoly b = ct->c0;
    if (!b.is_ntt_form()) to_ntt(b, context);
    bodies.push_back(std::move(b));
  }
  RnsPoly k0, k1;
  for (std::size_t x = 0; x < r; ++x) {
    const DecomposedPoly digits(ctx, cts[x]->c1, key.decomposition_bits);
    for (std::size_t y = 0; y < r; ++y) {
      digits.key_switch(key.to[x][y], k0, k1);
      add_into(context, bodies[y], k0);
      if (y == 0) add_into(context, mask, k1);  // equal for every y
    }
  }
  // Re-randomization: + u * (zero mask, zero bodies) + fresh errors, one u
  // and one mask error for all.
  std::vector<std::int64_t> u(context.poly_degree());
  for (auto& v : u) v = rng.ternary();
  RnsPoly u_ntt = RnsPoly::from_signed(context, u.data(), u.size());
  to_ntt(u_ntt, context);
  multiply_add_into(context, mask, u_ntt, key.zero_mask);
  from_ntt(mask, context);
  add_fresh_error(context, mask, rng);  // e2: the common mask is an RLWE sample under u
  for (std::size_t y = 0; y < r; ++y) {
    multiply_add_into(context, bodies[y], u_ntt, key.zero_bodies[y]);
    from_ntt(bodies[y], context);
    add_fresh_error(context, bodies[y], rng);  // e1_y
    cts[y]->c0 = std::move(bodies[y]);
    cts[y]->c1 = mask;
  }
}

std::vector<std::uint8_t> save(const SharedMaskKey& key, const Context& context) {
  context.check_param_id(key.param_id, "shared-mask key");
  Bytes out;
  ByteWriter w(out);
  w.bytes(kMagic);
  w.u16(kVersion);
  w.u16(static_cast<std::uint16_t>(key.param_id));
  w.u8(static_cast<std::uint8_t>(key.decomposition_bits));
  w.u8(static_cast<std::uint8_t>(key.group()));
  w.u16(0);
  for (std::size_t x = 0; x < key.group(); ++x) w.bytes(key.to[x][x].a_seed);
  w.bytes(key.zero_seed);
  for (std::size_t x = 0; x < key.group(); ++x)
    for (std::size_t d = 0; d < key.to[x][x].b.size(); ++d)
      for (std::size_t y = 0; y < key.group(); ++y) write_poly(w, context, key.to[x][y].b[d]);
  for (const RnsPoly& b : key.zero_bodies) write_poly(w, context, b);
  return out;
}

SharedMaskKey load_shared_mask_key(const Context& context, std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "shared-mask key");
  require(std::memcmp(r.take(4, "magic").data(), kMagic, 4) == 0, ErrorCode::bad_magic, "shared-mask key: bad magic");
  require(r.u16("version") == kVersion, ErrorCode::bad_version, "shared-mask key: bad version");
  const auto id = param_id_from_u16(r.u16("parameter id"));
  require(id == context.param_id(), ErrorCode::parameter_mismatch, "shared-mask key: made for another parameter set");
  const int w = r.u8("gadget width");
  require(w >= 1 && w <= 61, ErrorCode::bad_message, "shared-mask key: bad gadget width");
  const std::size_t g = r.u8("group size");
  require(g >= 2 && g <= kMaxGroup, ErrorCode::bad_message, "shared-mask key: bad group size");
  require(r.u16("reserved") == 0, ErrorCode::bad_message, "shared-mask key: reserved bytes not zero");
  SharedMaskKey key;
  key.param_id = id;
  key.decomposition_bits = w;
  const auto digits = gadget_digits(context, w);
  std::size_t total = 0;
  for (std::size_t l : digits) total += l;
  key.to.assign(g, std::vector<KeySwitchKey>(g));
  std::vector<Seed> seeds(g);
  for (auto& seed : seeds) r.copy_to(seed, "mask seed");
  r.copy_to(key.zero_seed, "zero seed");
  for (std::size_t x = 0; x < g; ++x) {
    const auto masks = expand_key_masks(context, seeds[x], total);
    for (std::size_t y = 0; y < g; ++y) {
      KeySwitchKey& k = key.to[x][y];
      k.decomposition_bits = w;
      k.digits_per_prime = digits;
      k.a_seed = seeds[x];
      k.a = masks;
    }
    for (std::size_t d = 0; d < total; ++d)
      for (std::size_t y = 0; y < g; ++y) key.to[x][y].b.push_back(read_poly(r, context));
  }
  key.zero_mask = expand_key_masks(context, key.zero_seed, 1).front();
  for (std::size_t y = 0; y < g; ++y) key.zero_bodies.push_back(read_poly(r, context));
  r.expect_end();
  return key;
}

}  // namespace fhellm::he
