#include "fhellm/he/hoisted_galois.h"

#include <algorithm>
#include <set>
#include <string>

#include "fhellm/error.h"
#include "fhellm/he/evaluator.h"
#include "fhellm/math/keyswitch_kernels.h"
#include "fhellm/math/ntt.h"
#include "fhellm/math/poly_arith.h"

namespace fhellm::he {

namespace {

bool use_words32(const Context& ctx, int w) {
  const std::size_t k = ctx.moduli_count();
  if (k > 8) return false;
  for (std::size_t l = 0; l < k; ++l)
    if (!math::ntt32_available(ctx.ntt_tables(l))) return false;
  const auto levels = gadget_digits(ctx, w);
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t l = 0; l < k; ++l)
      if (math::gadget_digit_bound(ctx.modulus(i).value(), w, levels[i]) >= ctx.modulus(l).value()) return false;
  // Sums of `digits` products of values < q stay below 2^64.
  std::size_t digits = 0;
  for (std::size_t v : levels) digits += v;
  for (std::size_t l = 0; l < k; ++l)
    if (math::max_lazy_terms_u64(ctx.modulus(l)) < digits) return false;
  return true;
}

}  // namespace

HoistedGaloisKeys::HoistedGaloisKeys(const Context& ctx, const GaloisKeys& keys) {
  if (keys.keys().empty()) return;
  ctx.check_param_id(keys.param_id(), "Galois keys");
  param_id_ = ctx.param_id();
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  for (const auto& [g, key] : keys.keys()) {
    if (!use_words32(ctx, key.decomposition_bits)) return;  // no 32-bit pipeline: keep nothing
    require(w_ == 0 || key.decomposition_bits == w_, ErrorCode::parameter_mismatch,
            "hoisted Galois keys: elements with different gadgets");
    w_ = key.decomposition_bits;
    digits_ = key.b.size();
    const std::vector<std::uint32_t>& perm = ctx.automorphism_permutation(g);
    Element e;
    e.b.resize(digits_ * k * n);
    e.a.resize(digits_ * k * n);
    for (std::size_t d = 0; d < digits_; ++d)
      for (std::size_t l = 0; l < k; ++l) {
        std::uint32_t* b = e.b.data() + (d * k + l) * n;
        std::uint32_t* a = e.a.data() + (d * k + l) * n;
        const std::uint64_t* kb = key.b[d].residues(l);
        const std::uint64_t* ka = key.a[d].residues(l);
        for (std::size_t j = 0; j < n; ++j) {
          b[perm[j]] = static_cast<std::uint32_t>(kb[j]);
          a[perm[j]] = static_cast<std::uint32_t>(ka[j]);
        }
      }
    elements_.emplace(g, std::move(e));
  }
}

std::size_t HoistedGaloisKeys::bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& [g, e] : elements_) total += (e.b.size() + e.a.size()) * sizeof(std::uint32_t);
  return total;
}

HoistedCiphertext::HoistedCiphertext(ContextPtr context, const Ciphertext& ct, int decomposition_bits)
    : context_(std::move(context)), ct_(ct), w_(decomposition_bits) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "hoisted automorphisms: null context");
  const Context& ctx = *context_;
  check_ciphertext(ct_, ctx, "hoisted ciphertext");
  require(w_ >= 1 && w_ <= 61, ErrorCode::invalid_argument, "hoisted automorphisms: gadget width outside 1..61");
  const Evaluator ev(context_);
  if (!ct_.is_ntt_form()) ev.transform_to_ntt_inplace(ct_);
  if (!use_words32(ctx, w_)) return;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const auto levels = gadget_digits(ctx, w_);
  for (std::size_t v : levels) digits_ += v;
  // c1 in coefficient form, cut into digits, each lifted to every prime and transformed.
  RnsPoly c1 = ct_.c1;
  for (std::size_t i = 0; i < k; ++i) math::ntt_inverse(c1.residues(i), ctx.ntt_tables(i));
  digits32_.resize(digits_ * k * n);
  std::uint64_t q_dst[8];
  std::uint32_t* outs[8];
  for (std::size_t l = 0; l < k; ++l) q_dst[l] = ctx.modulus(l).value();
  std::size_t d = 0;
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t t = 0; t < levels[i]; ++t, ++d) {
      const math::GadgetDigit digit{ctx.modulus(i).value(), w_, levels[i], t};
      for (std::size_t l = 0; l < k; ++l) outs[l] = digits32_.data() + (d * k + l) * n;
      math::gadget_digit_lift_u32_multi(c1.residues(i), digit, q_dst, outs, k, n);
      for (std::size_t l = 0; l < k; ++l) math::ntt_forward_u32(outs[l], math::ntt_tables32(ctx.ntt_tables(l)));
    }
}

Ciphertext HoistedCiphertext::apply_galois(std::uint64_t galois_elt, const GaloisKeys& keys) const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  require((galois_elt & 1) == 1 && galois_elt < 2 * n, ErrorCode::invalid_argument,
          "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  if (keys.param_id() != ctx.param_id()) ctx.check_param_id(keys.param_id(), "Galois keys");
  const KeySwitchKey& key = keys.get(galois_elt);
  if (digits32_.empty()) {
    Ciphertext out = ct_;
    Evaluator(context_).apply_galois_inplace(out, galois_elt, keys);
    return out;
  }
  require(key.decomposition_bits == w_ && key.digits_per_prime == gadget_digits(ctx, w_) && key.b.size() == digits_ &&
              key.a.size() == digits_,
          ErrorCode::parameter_mismatch, "hoisted automorphism: the key's gadget differs from the decomposition");
  for (std::size_t d = 0; d < digits_; ++d)
    for (const RnsPoly* p : {&key.b[d], &key.a[d]})
      if (p->param_id() != ctx.param_id() || p->size() != n * k) check_poly(*p, ctx, "Galois key");
  const std::vector<std::uint32_t>& perm = ctx.automorphism_permutation(galois_elt);
  thread_local std::vector<std::uint32_t> permuted;
  thread_local std::vector<const std::uint32_t*> rp;
  thread_local std::vector<const std::uint64_t*> bp, ap;
  permuted.resize(digits_ * n);
  rp.resize(digits_);
  bp.resize(digits_);
  ap.resize(digits_);
  Ciphertext out(ctx, true);
  RnsPoly k0(ctx, true);
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t d = 0; d < digits_; ++d) {
      const std::uint32_t* src = digits32_.data() + (d * k + l) * n;
      std::uint32_t* dst = permuted.data() + d * n;
      for (std::size_t j = 0; j < n; ++j) dst[j] = src[perm[j]];
      rp[d] = dst;
      bp[d] = key.b[d].residues(l);
      ap[d] = key.a[d].residues(l);
    }
    math::dot_pair_reduce_u64_r32(rp.data(), bp.data(), ap.data(), digits_, k0.residues(l), out.c1.residues(l), n,
                                  ctx.modulus(l));
    math::permute_slots_add(ct_.c0.residues(l), perm.data(), k0.residues(l), out.c0.residues(l), n,
                            ctx.modulus(l).value());
  }
  return out;
}

Ciphertext HoistedCiphertext::apply_galois(std::uint64_t galois_elt, const HoistedGaloisKeys& keys) const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  require(fast(), ErrorCode::invalid_argument, "hoisted automorphism: no hoisted digits on this context");
  require((galois_elt & 1) == 1 && galois_elt < 2 * n, ErrorCode::invalid_argument,
          "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  const auto found = keys.elements_.find(galois_elt);
  require(found != keys.elements_.end(), ErrorCode::missing_galois_key,
          "no hoisted Galois key for element " + std::to_string(galois_elt));
  if (keys.param_id_ != ctx.param_id()) ctx.check_param_id(keys.param_id_, "hoisted Galois keys");
  require(keys.w_ == w_ && keys.digits_ == digits_, ErrorCode::parameter_mismatch,
          "hoisted automorphism: the keys' gadget differs from the decomposition");
  const auto& key = found->second;
  const std::vector<std::uint32_t>& perm = ctx.automorphism_permutation(galois_elt);
  thread_local std::vector<const std::uint32_t*> rp, bp, ap;
  thread_local std::vector<std::uint64_t> t0, t1;
  rp.resize(digits_);
  bp.resize(digits_);
  ap.resize(digits_);
  t0.resize(n);
  t1.resize(n);
  Ciphertext out(ctx, true);
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t d = 0; d < digits_; ++d) {
      const std::size_t o = (d * k + l) * n;
      rp[d] = digits32_.data() + o;
      bp[d] = key.b.data() + o;
      ap[d] = key.a.data() + o;
    }
    // Slot order of c1's digits: sigma_g moves slot perm[j] to j afterwards.
    math::dot_pair_reduce_u32(rp.data(), bp.data(), ap.data(), digits_, t0.data(), t1.data(), n, ctx.modulus(l));
    math::add_mod(t0.data(), ct_.c0.residues(l), t0.data(), n, ctx.modulus(l));
    math::permute_slots(t0.data(), perm.data(), out.c0.residues(l), n);
    math::permute_slots(t1.data(), perm.data(), out.c1.residues(l), n);
  }
  return out;
}

std::vector<std::uint64_t> composed_galois_elements(std::size_t poly_degree, int levels) {
  require(levels >= 0 && (std::size_t{1} << levels) <= poly_degree, ErrorCode::invalid_argument,
          "composed Galois elements: levels outside 0..log2(N)");
  const std::uint64_t mod = 2 * static_cast<std::uint64_t>(poly_degree);
  std::set<std::uint64_t> out;
  for (std::uint32_t mask = 1; mask < (1u << levels); ++mask) {
    std::uint64_t g = 1;
    for (int j = 1; j <= levels; ++j)
      if (mask & (1u << (j - 1))) g = g * ((std::uint64_t{1} << j) + 1) % mod;
    out.insert(g);
  }
  return {out.begin(), out.end()};
}

}  // namespace fhellm::he
