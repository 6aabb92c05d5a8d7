#include "he/hoisted_galois.h"

#include <algorithm>
#include <set>
#include <string>

#include "common/thread_pool.h"
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
  std::vector<std::pair<std::uint64_t, const KeySwitchKey*>> sources;
  for (const auto& [g, key] : keys.keys()) {
    if (!DecomposedPoly::fast_for(ctx, key.gadget())) return;  // no 32-bit pipeline: keep nothing
    require(w_ == 0 || key.gadget() == gadget(), ErrorCode::parameter_mismatch,
            "hoisted Galois keys: elements with different gadgets");
    w_ = key.decomposition_bits;
    base_ = key.base;
    digits_ = key.digit_count();
    sources.emplace_back(g, &key);
  }
  // One element per job (a session's 31 input-side keys, 9.1 MB, laid out
  // when it opens).
  std::vector<Element> laid(sources.size());
  default_thread_pool().run(sources.size(), default_thread_pool().max_threads(), [&](std::size_t i) {
    const auto& [g, key] = sources[i];
    const std::vector<std::uint32_t>& perm = ctx.automorphism_permutation(g);
    Element& e = laid[i];
    e.b.resize(digits_ * k * n);
    e.a.resize(digits_ * k * n);
    for (std::size_t d = 0; d < digits_; ++d)
      for (std::size_t l = 0; l < k; ++l) {
        std::uint32_t* b = e.b.data() + (d * k + l) * n;
        std::uint32_t* a = e.a.data() + (d * k + l) * n;
        const std::uint64_t* kb = key->b[d].residues(l);
        const std::uint64_t* ka = key->a[d].residues(l);
        for (std::size_t j = 0; j < n; ++j) {
          b[perm[j]] = static_cast<std::uint32_t>(kb[j]);
          a[perm[j]] = static_cast<std::uint32_t>(ka[j]);
        }
      }
  });
  for (std::size_t i = 0; i < sources.size(); ++i) elements_.emplace(sources[i].first, std::move(laid[i]));
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

HoistedCiphertext::HoistedCiphertext(ContextPtr context, const Ciphertext& ct, const Gadget& gadget)
    : context_(context), ct_(in_ntt_form(context, ct)), c1_(context, ct_.c1, gadget) {
  if (!fast()) return;
  const std::size_t n = context_->poly_degree(), k = context_->moduli_count();
  c0_words_.resize(k * n);
  for (std::size_t l = 0; l < k; ++l)
    for (std::size_t j = 0; j < n; ++j) c0_words_[l * n + j] = static_cast<std::uint32_t>(ct_.c0.residues(l)[j]);
}

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

std::vector<const HoistedGaloisKeys::Element*> HoistedCiphertext::batch_keys(
    std::span<const HoistedCiphertext* const> cts, std::span<const std::uint64_t> galois_elts,
    const HoistedGaloisKeys& keys) {
  const HoistedCiphertext& first = *cts[0];
  const Context& ctx = *first.context_;
  const std::size_t n = ctx.poly_degree();
  const Gadget gadget = first.c1_.gadget();
  for (const HoistedCiphertext* h : cts) {
    require(h->fast(), ErrorCode::invalid_argument, "hoisted automorphism: no hoisted digits on this context");
    require(h->context_->param_id() == ctx.param_id() && h->c1_.gadget() == gadget,
            ErrorCode::parameter_mismatch, "hoisted batch: ciphertexts of different contexts or gadgets");
  }
  if (keys.param_id_ != ctx.param_id()) ctx.check_param_id(keys.param_id_, "hoisted Galois keys");
  require(keys.gadget() == gadget && keys.digits_ == first.c1_.digit_count(), ErrorCode::parameter_mismatch,
          "hoisted automorphism: the keys' gadget differs from the decomposition");
  std::vector<const HoistedGaloisKeys::Element*> key(galois_elts.size());
  for (std::size_t i = 0; i < galois_elts.size(); ++i) {
    const std::uint64_t g = galois_elts[i];
    require((g & 1) == 1 && g < 2 * n, ErrorCode::invalid_argument,
            "Galois element " + std::to_string(g) + " is not odd and below 2N");
    const auto found = keys.elements_.find(g);
    require(found != keys.elements_.end(), ErrorCode::missing_galois_key,
            "no hoisted Galois key for element " + std::to_string(g));
    key[i] = &found->second;
  }
  return key;
}

// Slices of 256 slots: a row's digits (digits x 1 KiB) stay in L1 while
// every element reads them, each element's key slice (digits x 2 x 1 KiB)
// while every row does.
static constexpr std::size_t kHoistedSlice = 256;

void HoistedCiphertext::apply_galois_batch_sums(std::span<const HoistedCiphertext* const> cts,
                                                std::uint64_t galois_elt, const HoistedGaloisKeys& keys,
                                                const SumsSink& emit) {
  if (cts.empty()) return;
  const std::uint64_t elts[] = {galois_elt};
  const HoistedGaloisKeys::Element& key = *batch_keys(cts, elts, keys)[0];
  const Context& ctx = *cts[0]->context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count(), digits = cts[0]->c1_.digit_count();
  // Sums in the slot order of c1's digits, per row: t[r] = (t0 | t1), 2N words.
  thread_local std::vector<std::uint64_t> t;
  thread_local std::vector<const std::uint32_t*> rp, bp, ap;
  t.resize(cts.size() * 2 * n);
  rp.resize(digits);
  bp.resize(digits);
  ap.resize(digits);
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t j0 = 0; j0 < n; j0 += kHoistedSlice) {
      const std::size_t len = std::min(kHoistedSlice, n - j0);
      for (std::size_t d = 0; d < digits; ++d) {
        bp[d] = key.b.data() + (d * k + l) * n + j0;
        ap[d] = key.a.data() + (d * k + l) * n + j0;
      }
      for (std::size_t r = 0; r < cts.size(); ++r) {
        for (std::size_t d = 0; d < digits; ++d) rp[d] = cts[r]->c1_.digit(d, l) + j0;
        std::uint64_t* t0 = t.data() + r * 2 * n;
        math::dot_pair_reduce_u32(rp.data(), bp.data(), ap.data(), digits, t0 + j0, t0 + n + j0, len,
                                  ctx.modulus(l));
      }
    }
    // Slot order of c1's digits: sigma_g moves slot perm[j] to j (the sink's part).
    for (std::size_t r = 0; r < cts.size(); ++r) {
      std::uint64_t* t0 = t.data() + r * 2 * n;
      math::add_mod(t0, cts[r]->ct_.c0.residues(l), t0, n, ctx.modulus(l));
      emit(r, l, t0, t0 + n);
    }
  }
}

void HoistedCiphertext::apply_galois_batch_blocked(std::span<const HoistedCiphertext* const> cts,
                                                   std::span<const std::uint64_t> galois_elts,
                                                   const HoistedGaloisKeys& keys, const BlockedSink& where,
                                                   std::size_t part_offset, std::size_t block_stride) {
  if (cts.empty() || galois_elts.empty()) return;
  const std::vector<const HoistedGaloisKeys::Element*> key = batch_keys(cts, galois_elts, keys);
  const Context& ctx = *cts[0]->context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count(), rows = cts.size(), count = galois_elts.size();
  const std::size_t digits = cts[0]->c1_.digit_count(), blocks = n / math::kSlotBlock;
  require(n % math::kSlotBlock == 0, ErrorCode::invalid_argument, "hoisted batch: N is not a multiple of a slot block");
  // Per element: its permutation and, per source block, the output block it fills.
  std::vector<const std::uint32_t*> perm(count);
  std::vector<std::uint32_t> dest_block(count * blocks);
  for (std::size_t i = 0; i < count; ++i) {
    perm[i] = ctx.automorphism_permutation(galois_elts[i]).data();
    for (std::size_t b = 0; b < blocks; ++b)
      dest_block[i * blocks + perm[i][b * math::kSlotBlock] / math::kSlotBlock] = static_cast<std::uint32_t>(b);
  }
  std::vector<math::BlockedDestination> dst(count * rows * k);  // [(l rows + r) count + i]
  for (std::size_t l = 0; l < k; ++l)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t* c0 = where(i, r, l);
        dst[(l * rows + r) * count + i] = {perm[i], dest_block.data() + i * blocks, c0, c0 + part_offset,
                                           block_stride};
      }
  thread_local std::vector<const std::uint32_t*> rp, bp, ap;
  rp.resize(digits);
  bp.resize(count * digits);
  ap.resize(count * digits);
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t j0 = 0; j0 < n; j0 += kHoistedSlice) {
      const std::size_t len = std::min(kHoistedSlice, n - j0);
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t d = 0; d < digits; ++d) {
          const std::size_t o = (d * k + l) * n + j0;
          bp[i * digits + d] = key[i]->b.data() + o;
          ap[i * digits + d] = key[i]->a.data() + o;
        }
      // Element-major: an element's key slice (digits x 2 x 256 words, 20 KiB
      // for 10 digits) stays in L1 while every row of the block meets it;
      // row-major re-read every element's slice (0.6-1.3 MB) from L2 for
      // each row. The rows' digits of the slice (10 KiB each) stay in L2.
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t r = 0; r < rows; ++r) {
          for (std::size_t d = 0; d < digits; ++d) rp[d] = cts[r]->c1_.digit(d, l) + j0;
          const std::uint32_t* add = cts[r]->c0_words_.data() + l * n + j0;
          math::dot_pair_blocked_u32(rp.data(), bp.data() + i * digits, ap.data() + i * digits, digits, add, j0, len,
                                     dst[(l * rows + r) * count + i], ctx.modulus(l));
        }
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
