#include "he/keys.h"

#include <string>

#include "fhellm/error.h"
#include "he/gadget_decomposition.h"
#include "he/prng.h"
#include "math/poly_arith.h"
#include "internal.h"

namespace fhellm::he {
namespace {

RnsPoly ternary_to_ntt(const Context& context, std::span<const std::int8_t> coeffs) {
  RnsPoly p(context, false);
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const std::uint64_t q = context.modulus(i).value();
    std::uint64_t* r = p.residues(i);
    for (std::size_t j = 0; j < coeffs.size(); ++j) r[j] = coeffs[j] < 0 ? q - 1 : static_cast<std::uint64_t>(coeffs[j]);
  }
  to_ntt(p, context);
  return p;
}

}  // namespace

RnsPoly sample_error_ntt(const Context& context, Prng& prng) {
  const std::size_t n = context.poly_degree();
  std::vector<std::int64_t> e(n);
  prng.fill_centered_binomial(context.params().error_binomial_eta, e.data(), n);
  RnsPoly p = RnsPoly::from_signed(context, e.data(), n);
  to_ntt(p, context);
  return p;
}

SecretKey SecretKey::generate(const Context& context) {
  Prng prng(random_seed());
  std::vector<std::int8_t> coeffs(context.poly_degree());
  for (auto& c : coeffs) c = static_cast<std::int8_t>(prng.ternary());
  return from_coefficients(context, std::move(coeffs));
}

SecretKey SecretKey::from_coefficients(const Context& context, std::vector<std::int8_t> coeffs) {
  require(coeffs.size() == context.poly_degree(), ErrorCode::invalid_argument,
          "secret key needs " + std::to_string(context.poly_degree()) + " coefficients, got " +
              std::to_string(coeffs.size()));
  for (std::int8_t c : coeffs) {
    if (c < -1 || c > 1) throw Error(ErrorCode::invalid_argument, "secret key coefficient outside {-1, 0, 1}");
  }
  SecretKey sk;
  sk.ntt_ = ternary_to_ntt(context, coeffs);
  sk.coeffs_ = std::move(coeffs);
  return sk;
}

const KeySwitchKey& GaloisKeys::get(std::uint64_t galois_elt) const {
  auto it = keys_.find(galois_elt);
  require(it != keys_.end(), ErrorCode::missing_galois_key,
          "no Galois key for element " + std::to_string(galois_elt));
  return it->second;
}

void GaloisKeys::insert(ParamId id, std::uint64_t galois_elt, KeySwitchKey key) {
  require(keys_.empty() || id == param_id_, ErrorCode::parameter_mismatch,
          "Galois key for another parameter set");
  param_id_ = id;
  keys_[galois_elt] = std::move(key);
}

std::vector<std::size_t> gadget_digits(const Context& context, int decomposition_bits) {
  require(decomposition_bits >= 1 && decomposition_bits <= 61, ErrorCode::invalid_argument,
          "decomposition bits " + std::to_string(decomposition_bits) + " outside [1, 61]");
  std::vector<std::size_t> digits;
  for (std::size_t i = 0; i < context.moduli_count(); ++i) {
    const int bits = context.modulus(i).bit_count();
    digits.push_back(static_cast<std::size_t>((bits + decomposition_bits - 1) / decomposition_bits));
  }
  return digits;
}

std::size_t key_switch_digits(const Context& context, const Gadget& gadget) {
  require(gadget.bits >= 1 && gadget.bits <= 61, ErrorCode::invalid_argument,
          "decomposition bits " + std::to_string(gadget.bits) + " outside [1, 61]");
  if (gadget.base == GadgetBase::composed)
    require(composed_gadget_supported(context, gadget.bits), ErrorCode::invalid_argument,
            "a composed gadget of " + std::to_string(gadget.bits) + " bits is not supported on " +
                std::string(context.params().name));
  return gadget_digit_count(context.params(), gadget);
}

// The a_ij of a key: uniform NTT-form polys drawn in order from one seed.
std::vector<RnsPoly> expand_key_masks(const Context& context, const Seed& seed, std::size_t count) {
  Prng prng(seed);
  std::vector<RnsPoly> masks;
  masks.reserve(count);
  for (std::size_t d = 0; d < count; ++d) {
    RnsPoly a(context, true);
    for (std::size_t i = 0; i < context.moduli_count(); ++i) {
      prng.fill_uniform_below(context.modulus(i).value(), a.residues(i), context.poly_degree());
    }
    masks.push_back(std::move(a));
  }
  return masks;
}

namespace {

// The gadget's digit values as residues, digit d for prime l at [d][l]: per
// prime, 2^(w j) for digit j of prime i in q_i and 0 in the others (the
// "[mod q_i]" of keys.h); composed, 2^(w j) mod every prime.
std::vector<std::vector<std::uint64_t>> gadget_values(const Context& context, const KeySwitchKey& key) {
  const std::size_t k = context.moduli_count();
  const auto w = static_cast<std::uint64_t>(key.decomposition_bits);
  std::vector<std::vector<std::uint64_t>> values;
  if (key.base == GadgetBase::composed) {
    for (std::size_t j = 0; j < key_switch_digits(context, key.gadget()); ++j) {
      values.emplace_back(k);
      for (std::size_t l = 0; l < k; ++l) values.back()[l] = context.modulus(l).pow(2, w * j);
    }
    return values;
  }
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < key.digits_per_prime[i]; ++j) {
      values.emplace_back(k, 0);
      values.back()[i] = context.modulus(i).pow(2, w * j);
    }
  return values;
}

}  // namespace

KeySwitchKey make_key_switch_key(const Context& context, const SecretKey& sk, std::span<const std::int8_t> from_key,
                                 int decomposition_bits) {
  context.check_param_id(sk.param_id(), "secret key");
  require(from_key.size() == context.poly_degree(), ErrorCode::invalid_argument, "source key has the wrong length");
  for (std::int8_t c : from_key) {
    if (c < -1 || c > 1) throw Error(ErrorCode::invalid_argument, "source key not ternary");
  }
  return make_key_switch_key(context, sk, ternary_to_ntt(context, from_key), decomposition_bits);
}

KeySwitchKey make_square_key(const Context& context, const SecretKey& sk, int decomposition_bits) {
  context.check_param_id(sk.param_id(), "secret key");
  RnsPoly square = sk.ntt();
  for (std::size_t l = 0; l < context.moduli_count(); ++l) {
    const math::Modulus& q = context.modulus(l);
    std::uint64_t* v = square.residues(l);
    for (std::size_t t = 0; t < context.poly_degree(); ++t) v[t] = q.mul(v[t], v[t]);
  }
  return make_key_switch_key(context, sk, square, decomposition_bits);
}

KeySwitchKey make_key_switch_key(const Context& context, const SecretKey& sk, const RnsPoly& source,
                                 int decomposition_bits, GadgetBase base) {
  context.check_param_id(sk.param_id(), "secret key");
  check_poly(source, context, "source key");
  require(source.is_ntt_form(), ErrorCode::invalid_argument, "source key must be in NTT form");
  KeySwitchKey key;
  key.decomposition_bits = decomposition_bits;
  key.base = base;
  if (base == GadgetBase::per_prime) key.digits_per_prime = gadget_digits(context, decomposition_bits);
  const std::vector<std::vector<std::uint64_t>> values = gadget_values(context, key);
  key.a_seed = random_seed();
  key.a = expand_key_masks(context, key.a_seed, values.size());
  Prng noise(random_seed());
  const std::size_t n = context.poly_degree();
  for (std::size_t d = 0; d < values.size(); ++d) {
    RnsPoly b = sample_error_ntt(context, noise);
    // b = e - a s + g_d s' (g_d: the digit's gadget value in each prime).
    for (std::size_t l = 0; l < context.moduli_count(); ++l) {
      const math::Modulus& ql = context.modulus(l);
      std::uint64_t* br = b.residues(l);
      const std::uint64_t* ar = key.a[d].residues(l);
      const std::uint64_t* sr = sk.ntt().residues(l);
      for (std::size_t t = 0; t < n; ++t) br[t] = ql.sub(br[t], ql.mul(ar[t], sr[t]));
      if (values[d][l] == 0) continue;
      const math::ShoupConstant f(values[d][l], ql);
      const std::uint64_t* src = source.residues(l);
      for (std::size_t t = 0; t < n; ++t) br[t] = ql.add(br[t], math::mul_shoup(src[t], f, ql.value()));
    }
    key.b.push_back(std::move(b));
  }
  return key;
}

std::vector<std::int8_t> apply_galois_to_ternary(std::span<const std::int8_t> coeffs, std::uint64_t galois_elt) {
  const std::size_t n = coeffs.size();
  std::vector<std::int8_t> out(n, 0);
  const std::uint64_t mask = 2 * n - 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = (i * galois_elt) & mask;
    if (e < n) out[e] = coeffs[i];
    else out[e - n] = static_cast<std::int8_t>(-coeffs[i]);
  }
  return out;
}

GaloisKeys make_galois_keys(const Context& context, const SecretKey& sk, std::span<const std::uint64_t> galois_elts,
                            int decomposition_bits, GadgetBase base) {
  context.check_param_id(sk.param_id(), "secret key");
  if (decomposition_bits == 0) decomposition_bits = context.params().default_decomposition_bits;
  GaloisKeys keys;
  for (std::uint64_t g : galois_elts) {
    require((g & 1) == 1 && g >= 3 && g < 2 * context.poly_degree(), ErrorCode::invalid_argument,
            "Galois element " + std::to_string(g) + " is not odd in [3, 2N)");
    const auto rotated = apply_galois_to_ternary(sk.coefficients(), g);
    keys.insert(context.param_id(), g,
                make_key_switch_key(context, sk, ternary_to_ntt(context, rotated), decomposition_bits, base));
  }
  return keys;
}

std::vector<std::uint64_t> packing_galois_elements(std::size_t poly_degree) {
  std::vector<std::uint64_t> elts;
  for (std::size_t l = 1; (std::size_t{1} << l) <= poly_degree; ++l) elts.push_back((std::uint64_t{1} << l) + 1);
  return elts;
}

}  // namespace fhellm::he

namespace fhellm::he {

void compact_key_words32(const Context& context, KeySwitchKey& key) {
  const std::size_t n = context.poly_degree(), k = context.moduli_count(), digits = key.b.size();
  for (std::size_t l = 0; l < k; ++l)
    if (context.modulus(l).value() >= (std::uint64_t{1} << 30)) return;
  auto b = std::make_shared<std::vector<std::uint32_t>>(digits * k * n);
  auto a = std::make_shared<std::vector<std::uint32_t>>(digits * k * n);
  for (std::size_t d = 0; d < digits; ++d)
    for (std::size_t l = 0; l < k; ++l)
      for (std::size_t j = 0; j < n; ++j) {
        (*b)[(d * k + l) * n + j] = static_cast<std::uint32_t>(key.b[d].residues(l)[j]);
        (*a)[(d * k + l) * n + j] = static_cast<std::uint32_t>(key.a[d].residues(l)[j]);
      }
  key.b32 = std::move(b);
  key.a32 = std::move(a);
  key.digits32 = digits;
}

namespace {

bool has_words32(const KeySwitchKey& key) { return key.b32 && key.a32 && key.digits32 == key.b.size(); }

// The key without its 64-bit words (they are not copied on the way).
KeySwitchKey words32_only(const KeySwitchKey& key) {
  KeySwitchKey out;
  out.decomposition_bits = key.decomposition_bits;
  out.base = key.base;
  out.digits_per_prime = key.digits_per_prime;
  out.a_seed = key.a_seed;
  out.b32 = key.b32;
  out.a32 = key.a32;
  out.digits32 = key.digits32;
  return out;
}

}  // namespace

void drop_key_words64(KeySwitchKey& key) {
  if (has_words32(key)) key = words32_only(key);
}

void drop_key_words64(GaloisKeys& keys) {
  if (keys.keys().empty()) return;
  GaloisKeys kept;
  for (const auto& [g, key] : keys.keys()) kept.insert(keys.param_id(), g, has_words32(key) ? words32_only(key) : key);
  keys = std::move(kept);
}

}  // namespace fhellm::he
