#include "fhellm/he/gadget_decomposition.h"

#include <string>

#include "fhellm/error.h"
#include "fhellm/he/evaluator.h"
#include "fhellm/math/keyswitch_kernels.h"
#include "fhellm/math/ntt.h"
#include "fhellm/math/poly_arith.h"

namespace fhellm::he {

namespace {

// The 32-bit pipeline applies: every prime has the 32-bit NTT, every digit
// fits every prime, and sums of `digits` products fit 64 bits.
bool use_words32(const Context& ctx, int w) {
  const std::size_t k = ctx.moduli_count();
  if (k > 8) return false;
  for (std::size_t l = 0; l < k; ++l)
    if (!math::ntt32_available(ctx.ntt_tables(l))) return false;
  const auto levels = gadget_digits(ctx, w);
  std::size_t digits = 0;
  for (std::size_t i = 0; i < k; ++i) {
    digits += levels[i];
    for (std::size_t l = 0; l < k; ++l)
      if (math::gadget_digit_bound(ctx.modulus(i).value(), w, levels[i]) >= ctx.modulus(l).value()) return false;
  }
  for (std::size_t l = 0; l < k; ++l)
    if (math::max_lazy_terms_u64(ctx.modulus(l)) < digits) return false;
  return true;
}

}  // namespace

bool DecomposedPoly::fast_for(const Context& context, int decomposition_bits) {
  return decomposition_bits >= 1 && decomposition_bits <= 61 && use_words32(context, decomposition_bits);
}

DecomposedPoly::DecomposedPoly(ContextPtr context, const RnsPoly& c, int decomposition_bits)
    : context_(std::move(context)), w_(decomposition_bits) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "gadget decomposition: null context");
  const Context& ctx = *context_;
  check_poly(c, ctx, "decomposed polynomial");
  require(w_ >= 1 && w_ <= 61, ErrorCode::invalid_argument, "gadget decomposition: width outside 1..61");
  n_ = ctx.poly_degree();
  k_ = ctx.moduli_count();
  coeff_ = c;
  if (coeff_.is_ntt_form()) from_ntt(coeff_, ctx);
  const auto levels = gadget_digits(ctx, w_);
  for (std::size_t v : levels) digits_ += v;
  if (!use_words32(ctx, w_)) return;
  digits32_.resize(digits_ * k_ * n_);
  std::uint64_t q_dst[8];
  std::uint32_t* outs[8];
  for (std::size_t l = 0; l < k_; ++l) q_dst[l] = ctx.modulus(l).value();
  std::size_t d = 0;
  for (std::size_t i = 0; i < k_; ++i)
    for (std::size_t t = 0; t < levels[i]; ++t, ++d) {
      const math::GadgetDigit digit{ctx.modulus(i).value(), w_, levels[i], t};
      for (std::size_t l = 0; l < k_; ++l) outs[l] = digits32_.data() + (d * k_ + l) * n_;
      math::gadget_digit_lift_u32_multi(coeff_.residues(i), digit, q_dst, outs, k_, n_);
      for (std::size_t l = 0; l < k_; ++l) math::ntt_forward_u32(outs[l], math::ntt_tables32(ctx.ntt_tables(l)));
    }
}

void DecomposedPoly::key_switch(const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1) const {
  const Context& ctx = *context_;
  if (!fast()) return Evaluator(context_).key_switch(coeff_, key, out0, out1);
  require(key.decomposition_bits == w_ && key.b.size() == digits_ && key.a.size() == digits_ &&
              key.digits_per_prime == gadget_digits(ctx, w_),
          ErrorCode::parameter_mismatch, "key switch: the key's gadget differs from the decomposition");
  for (std::size_t d = 0; d < digits_; ++d)
    for (const RnsPoly* p : {&key.b[d], &key.a[d]})
      if (p->param_id() != ctx.param_id() || p->size() != n_ * k_) check_poly(*p, ctx, "key switching key");
  if (out0.param_id() != ctx.param_id() || out0.size() != n_ * k_) out0 = RnsPoly(ctx, true);
  if (out1.param_id() != ctx.param_id() || out1.size() != n_ * k_) out1 = RnsPoly(ctx, true);
  out0.set_ntt_form(true);
  out1.set_ntt_form(true);
  thread_local std::vector<const std::uint32_t*> rp;
  thread_local std::vector<const std::uint64_t*> bp, ap;
  rp.resize(digits_);
  bp.resize(digits_);
  ap.resize(digits_);
  for (std::size_t l = 0; l < k_; ++l) {
    for (std::size_t d = 0; d < digits_; ++d) {
      rp[d] = digit(d, l);
      bp[d] = key.b[d].residues(l);
      ap[d] = key.a[d].residues(l);
    }
    math::dot_pair_reduce_u64_r32(rp.data(), bp.data(), ap.data(), digits_, out0.residues(l), out1.residues(l), n_,
                                  ctx.modulus(l));
  }
}

}  // namespace fhellm::he
