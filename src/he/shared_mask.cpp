#include "fhellm/he/shared_mask.h"

#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "fhellm/he/bit_packing.h"
#include "fhellm/he/evaluator.h"
#include "fhellm/math/poly_arith.h"
#include "internal.h"

namespace fhellm::he {
namespace {

constexpr std::uint8_t kMagic[4] = {'F', 'H', 'S', 'M'};
constexpr std::uint16_t kVersion = 1;

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

void write_poly(std::vector<std::uint8_t>& out, const Context& ctx, const RnsPoly& p) {
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const int width = bit_width_for_modulus(ctx.modulus(i).value());
    const auto bytes = pack_bits(std::span<const std::uint64_t>(p.residues(i), ctx.poly_degree()), width);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
}

struct Reader {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  std::span<const std::uint8_t> take(std::size_t n) {
    require(n <= in.size() - pos, ErrorCode::truncated,
            "shared-mask key: needs " + std::to_string(n) + " more bytes at offset " + std::to_string(pos));
    auto s = in.subspan(pos, n);
    pos += n;
    return s;
  }
  std::uint64_t le(int n) {
    const auto s = take(n);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{s[i]} << (8 * i);
    return v;
  }
  Seed seed() {
    Seed s;
    const auto b = take(s.size());
    std::copy(b.begin(), b.end(), s.begin());
    return s;
  }
  RnsPoly poly(const Context& ctx) {
    RnsPoly p(ctx, true);
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      const std::uint64_t q = ctx.modulus(i).value();
      const int width = bit_width_for_modulus(q);
      const auto raw = take(packed_size_bytes(ctx.poly_degree(), width));
      unpack_bits(raw.data(), ctx.poly_degree(), width, p.residues(i));
      for (std::size_t j = 0; j < ctx.poly_degree(); ++j)
        require(p.residues(i)[j] < q, ErrorCode::coefficient_out_of_range, "shared-mask key: coefficient >= q");
      const std::size_t used = ctx.poly_degree() * static_cast<std::size_t>(width);
      if (used % 8 != 0)
        require((raw.back() >> (used % 8)) == 0, ErrorCode::bad_message, "shared-mask key: padding not zero");
    }
    return p;
  }
};

}  // namespace

SharedMaskKey make_shared_mask_key(const Context& context, const SecretKey& source, const SecretKey& first,
                                   const SecretKey& second, int decomposition_bits) {
  for (const SecretKey* k : {&source, &first, &second}) context.check_param_id(k->param_id(), "secret key");
  const int w = decomposition_bits == 0 ? context.params().default_decomposition_bits : decomposition_bits;
  Prng prng(random_seed());
  SharedMaskKey key;
  key.param_id = context.param_id();
  key.decomposition_bits = w;
  key.to_first = make_key_switch_key(context, first, source.coefficients(), w);
  key.zero_second = zero_key_with_masks(context, second, key.to_first, prng);
  key.to_second = make_key_switch_key(context, second, source.coefficients(), w);
  key.zero_first = zero_key_with_masks(context, first, key.to_second, prng);
  key.zero_seed = random_seed();
  key.zero_mask = expand_key_masks(context, key.zero_seed, 1).front();
  key.zero_first_body = zero_body(context, key.zero_mask, first, prng);
  key.zero_second_body = zero_body(context, key.zero_mask, second, prng);
  return key;
}

void shared_mask_switch(const Context& context, const SharedMaskKey& key, Ciphertext& a, Ciphertext& b, Prng& rng) {
  context.check_param_id(key.param_id, "shared-mask key");
  const Evaluator ev(Context::get(context.param_id()));
  if (a.is_ntt_form()) ev.transform_from_ntt_inplace(a);
  if (b.is_ntt_form()) ev.transform_from_ntt_inplace(b);
  // Each source's digits meet both targets' bodies with the same key masks.
  RnsPoly k0, k1, z0, z1, m0, m1, y0, y1;
  ev.key_switch(a.c1, key.to_first, k0, k1);     // k1 = sum digit(c1a) alpha_a
  ev.key_switch(a.c1, key.zero_second, z0, z1);  // z1 == k1
  ev.key_switch(b.c1, key.to_second, m0, m1);    // m1 = sum digit(c1b) alpha_b
  ev.key_switch(b.c1, key.zero_first, y0, y1);   // y1 == m1
  RnsPoly mask = std::move(k1);
  add_into(context, mask, m1);
  RnsPoly body_a = std::move(a.c0), body_b = std::move(b.c0);
  to_ntt(body_a, context);
  to_ntt(body_b, context);
  add_into(context, body_a, k0);
  add_into(context, body_a, y0);
  add_into(context, body_b, z0);
  add_into(context, body_b, m0);
  // Re-randomization: + u * (zero mask, zero bodies), one u for both.
  std::vector<std::int64_t> u(context.poly_degree());
  for (auto& v : u) v = rng.ternary();
  RnsPoly u_ntt = RnsPoly::from_signed(context, u.data(), u.size());
  to_ntt(u_ntt, context);
  multiply_add_into(context, mask, u_ntt, key.zero_mask);
  multiply_add_into(context, body_a, u_ntt, key.zero_first_body);
  multiply_add_into(context, body_b, u_ntt, key.zero_second_body);
  from_ntt(mask, context);
  from_ntt(body_a, context);
  from_ntt(body_b, context);
  a.c0 = std::move(body_a);
  b.c0 = std::move(body_b);
  a.c1 = mask;
  b.c1 = std::move(mask);
}

std::vector<std::uint8_t> save(const SharedMaskKey& key, const Context& context) {
  context.check_param_id(key.param_id, "shared-mask key");
  std::vector<std::uint8_t> out(kMagic, kMagic + 4);
  auto u16 = [&](std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  u16(kVersion);
  u16(static_cast<std::uint16_t>(key.param_id));
  out.push_back(static_cast<std::uint8_t>(key.decomposition_bits));
  out.insert(out.end(), 3, 0);
  for (const Seed* s : {&key.to_first.a_seed, &key.to_second.a_seed, &key.zero_seed}) out.insert(out.end(), s->begin(), s->end());
  for (std::size_t d = 0; d < key.to_first.b.size(); ++d) {
    write_poly(out, context, key.to_first.b[d]);
    write_poly(out, context, key.zero_second.b[d]);
  }
  for (std::size_t d = 0; d < key.to_second.b.size(); ++d) {
    write_poly(out, context, key.zero_first.b[d]);
    write_poly(out, context, key.to_second.b[d]);
  }
  write_poly(out, context, key.zero_first_body);
  write_poly(out, context, key.zero_second_body);
  return out;
}

SharedMaskKey load_shared_mask_key(const Context& context, std::span<const std::uint8_t> bytes) {
  Reader r{bytes};
  require(std::memcmp(r.take(4).data(), kMagic, 4) == 0, ErrorCode::bad_magic, "shared-mask key: bad magic");
  require(r.le(2) == kVersion, ErrorCode::bad_version, "shared-mask key: bad version");
  const auto id = param_id_from_u16(static_cast<std::uint16_t>(r.le(2)));
  require(id == context.param_id(), ErrorCode::parameter_mismatch, "shared-mask key: made for another parameter set");
  const int w = static_cast<int>(r.le(1));
  require(w >= 1 && w <= 61, ErrorCode::bad_message, "shared-mask key: bad gadget width");
  require(r.le(3) == 0, ErrorCode::bad_message, "shared-mask key: reserved bytes not zero");
  SharedMaskKey key;
  key.param_id = id;
  key.decomposition_bits = w;
  const auto digits = gadget_digits(context, w);
  std::size_t total = 0;
  for (std::size_t l : digits) total += l;
  const Seed seed_a = r.seed(), seed_b = r.seed();
  key.zero_seed = r.seed();
  for (KeySwitchKey* k : {&key.to_first, &key.zero_second, &key.to_second, &key.zero_first}) {
    k->decomposition_bits = w;
    k->digits_per_prime = digits;
  }
  key.to_first.a_seed = key.zero_second.a_seed = seed_a;
  key.to_second.a_seed = key.zero_first.a_seed = seed_b;
  key.to_first.a = expand_key_masks(context, seed_a, total);
  key.zero_second.a = key.to_first.a;
  key.to_second.a = expand_key_masks(context, seed_b, total);
  key.zero_first.a = key.to_second.a;
  for (std::size_t d = 0; d < total; ++d) {
    key.to_first.b.push_back(r.poly(context));
    key.zero_second.b.push_back(r.poly(context));
  }
  for (std::size_t d = 0; d < total; ++d) {
    key.zero_first.b.push_back(r.poly(context));
    key.to_second.b.push_back(r.poly(context));
  }
  key.zero_mask = expand_key_masks(context, key.zero_seed, 1).front();
  key.zero_first_body = r.poly(context);
  key.zero_second_body = r.poly(context);
  require(r.pos == bytes.size(), ErrorCode::trailing_bytes, "shared-mask key: trailing bytes");
  return key;
}

}  // namespace fhellm::he
