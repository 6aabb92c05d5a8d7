#include "he/hoisted_galois.h"

#include <algorithm>
#include <set>
#include <string>

#include "fhellm/error.h"
#include "he/evaluator.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/poly_arith.h"

namespace fhellm::he {

HoistedGaloisKeys::HoistedGaloisKeys(const Context& ctx, const GaloisKeys& keys) {
  if (keys.keys().empty()) return;
  ctx.check_param_id(keys.param_id(), "Galois keys");
  param_id_ = ctx.param_id();
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  for (const auto& [g, key] : keys.keys()) {
    if (!DecomposedPoly::fast_for(ctx, key.decomposition_bits)) return;  // no 32-bit pipeline: keep nothing
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

namespace {
Ciphertext in_ntt_form(const ContextPtr& context, const Ciphertext& ct) {
  require(context != nullptr, ErrorCode::invalid_argument, "hoisted automorphisms: null context");
  check_ciphertext(ct, *context, "hoisted ciphertext");
  Ciphertext out = ct;
  if (!out.is_ntt_form()) Evaluator(context).transform_to_ntt_inplace(out);
  return out;
}
}  // namespace

HoistedCiphertext::HoistedCiphertext(ContextPtr context, const Ciphertext& ct, int decomposition_bits)
    : context_(context), ct_(in_ntt_form(context, ct)), c1_(context, ct_.c1, decomposition_bits) {}

Ciphertext HoistedCiphertext::apply_galois(std::uint64_t galois_elt, const GaloisKeys& keys) const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  require((galois_elt & 1) == 1 && galois_elt < 2 * n, ErrorCode::invalid_argument,
          "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  if (keys.param_id() != ctx.param_id()) ctx.check_param_id(keys.param_id(), "Galois keys");
  const KeySwitchKey& key = keys.get(galois_elt);
  if (!fast()) {
    Ciphertext out = ct_;
    Evaluator(context_).apply_galois_inplace(out, galois_elt, keys);
    return out;
  }
  // The hoisted path with this one key laid out for it (tests and callers
  // without a HoistedGaloisKeys; the linear layer lays its keys out once).
  GaloisKeys one;
  one.insert(ctx.param_id(), galois_elt, key);
  return apply_galois(galois_elt, HoistedGaloisKeys(ctx, one));
}

Ciphertext HoistedCiphertext::apply_galois(std::uint64_t galois_elt, const HoistedGaloisKeys& keys) const {
  Ciphertext out;
  const HoistedCiphertext* self = this;
  apply_galois_batch(std::span<const HoistedCiphertext* const>(&self, 1), galois_elt, keys,
                     std::span<Ciphertext>(&out, 1));
  return out;
}

void HoistedCiphertext::apply_galois_batch(std::span<const HoistedCiphertext* const> cts, std::uint64_t galois_elt,
                                           const HoistedGaloisKeys& keys, std::span<Ciphertext> out) {
  require(cts.size() == out.size(), ErrorCode::invalid_argument, "hoisted batch: sizes differ");
  if (cts.empty()) return;
  const Context& ctx = *cts[0]->context_;
  const std::size_t n = ctx.poly_degree();
  const std::uint32_t* perm = nullptr;  // once the element is checked
  apply_galois_batch_sums(cts, galois_elt, keys,
                          [&](std::size_t r, std::size_t l, const std::uint64_t* t0, const std::uint64_t* t1) {
                            if (perm == nullptr) perm = ctx.automorphism_permutation(galois_elt).data();
                            // Primes in order: every slot is written by the permutations.
                            if (l == 0) out[r] = Ciphertext(ctx, true, kUninitialized);
                            math::permute_slots(t0, perm, out[r].c0.residues(l), n);
                            math::permute_slots(t1, perm, out[r].c1.residues(l), n);
                          });
}

void HoistedCiphertext::apply_galois_batch_sums(std::span<const HoistedCiphertext* const> cts,
                                                std::uint64_t galois_elt, const HoistedGaloisKeys& keys,
                                                const SumsSink& emit) {
  const std::uint64_t elts[] = {galois_elt};
  apply_galois_batch_sums(cts, elts, keys,
                          [&](std::size_t, std::size_t r, std::size_t l, const std::uint64_t* t0,
                              const std::uint64_t* t1) { emit(r, l, t0, t1); });
}

void HoistedCiphertext::apply_galois_batch_sums(std::span<const HoistedCiphertext* const> cts,
                                                std::span<const std::uint64_t> galois_elts,
                                                const HoistedGaloisKeys& keys, const ElementSumsSink& emit) {
  if (cts.empty() || galois_elts.empty()) return;
  const HoistedCiphertext& first = *cts[0];
  const Context& ctx = *first.context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count(), rows = cts.size(), count = galois_elts.size();
  const int w = first.c1_.decomposition_bits();
  const std::size_t digits = first.c1_.digit_count();
  for (const HoistedCiphertext* h : cts) {
    require(h->fast(), ErrorCode::invalid_argument, "hoisted automorphism: no hoisted digits on this context");
    require(h->context_->param_id() == ctx.param_id() && h->c1_.decomposition_bits() == w,
            ErrorCode::parameter_mismatch, "hoisted batch: ciphertexts of different contexts or gadgets");
  }
  if (keys.param_id_ != ctx.param_id()) ctx.check_param_id(keys.param_id_, "hoisted Galois keys");
  require(keys.w_ == w && keys.digits_ == digits, ErrorCode::parameter_mismatch,
          "hoisted automorphism: the keys' gadget differs from the decomposition");
  std::vector<const HoistedGaloisKeys::Element*> key(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t g = galois_elts[i];
    require((g & 1) == 1 && g < 2 * n, ErrorCode::invalid_argument,
            "Galois element " + std::to_string(g) + " is not odd and below 2N");
    const auto found = keys.elements_.find(g);
    require(found != keys.elements_.end(), ErrorCode::missing_galois_key,
            "no hoisted Galois key for element " + std::to_string(g));
    key[i] = &found->second;
  }
  // Sums in the slot order of c1's digits, per (element, row): t[i rows + r]
  // = (t0 | t1), 2N words.
  thread_local std::vector<std::uint64_t> t;
  thread_local std::vector<const std::uint32_t*> rp, bp, ap;
  t.resize(count * rows * 2 * n);
  rp.resize(digits);
  bp.resize(count * digits);
  ap.resize(count * digits);
  // Slices of 256 slots: a row's digits (digits x 1 KiB) stay in L1 while
  // every element reads them, each element's key slice (digits x 2 x 1 KiB)
  // while every row does.
  constexpr std::size_t kSlice = 256;
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t j0 = 0; j0 < n; j0 += kSlice) {
      const std::size_t len = std::min(kSlice, n - j0);
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t d = 0; d < digits; ++d) {
          const std::size_t o = (d * k + l) * n + j0;
          bp[i * digits + d] = key[i]->b.data() + o;
          ap[i * digits + d] = key[i]->a.data() + o;
        }
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t d = 0; d < digits; ++d) rp[d] = cts[r]->c1_.digit(d, l) + j0;
        for (std::size_t i = 0; i < count; ++i) {
          std::uint64_t* t0 = t.data() + (i * rows + r) * 2 * n;
          math::dot_pair_reduce_u32(rp.data(), bp.data() + i * digits, ap.data() + i * digits, digits, t0 + j0,
                                    t0 + n + j0, len, ctx.modulus(l));
        }
      }
    }
    // Slot order of c1's digits: sigma_g moves slot perm[j] to j (the sink's part).
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t r = 0; r < rows; ++r) {
        std::uint64_t* t0 = t.data() + (i * rows + r) * 2 * n;
        math::add_mod(t0, cts[r]->ct_.c0.residues(l), t0, n, ctx.modulus(l));
        emit(i, r, l, t0, t0 + n);
      }
  }
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
