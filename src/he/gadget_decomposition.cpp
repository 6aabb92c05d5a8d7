#include "he/gadget_decomposition.h"

#include <string>

#include "fhellm/error.h"
#include "he/evaluator.h"
#include "math/composed_gadget.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/poly_arith.h"

namespace fhellm::he {

bool gadget_words32(const Context& ctx, int w) {
  const std::size_t k = ctx.moduli_count();
  if (w < 1 || w > 61 || k > 8) return false;
  for (std::size_t l = 0; l < k; ++l)
    if (!math::ntt32_available(ctx.ntt_tables(l))) return false;
  const auto levels = gadget_digits(ctx, w);
  std::size_t digits = 0;
  for (std::size_t i = 0; i < k; ++i) {
    digits += levels[i];
    for (std::size_t l = 0; l < k; ++l)
      if (math::gadget_digit_bound(ctx.modulus(i).value(), w, levels[i]) >= ctx.modulus(l).value()) return false;
  }
  // Sums of `digits` products of values < q stay below 2^64.
  for (std::size_t l = 0; l < k; ++l)
    if (math::max_lazy_terms_u64(ctx.modulus(l)) < digits) return false;
  return true;
}

void gadget_digits_words32(const Context& ctx, const RnsPoly& c, int w, std::uint32_t* out, const RnsPoly* c_ntt) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const auto levels = gadget_digits(ctx, w);
  std::uint64_t q_dst[8];
  std::uint32_t* outs[8];
  for (std::size_t l = 0; l < k; ++l) q_dst[l] = ctx.modulus(l).value();
  std::size_t d = 0;
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t t = 0; t < levels[i]; ++t, ++d) {
      // Each digit computed once for every target prime.
      const math::GadgetDigit digit{ctx.modulus(i).value(), w, levels[i], t};
      for (std::size_t l = 0; l < k; ++l) outs[l] = out + (d * k + l) * n;
      math::gadget_digit_lift_u32_multi(c.residues(i), digit, q_dst, outs, k, n);
      // d_0 + 2^w d_1 = c_i mod q_i: the top digit's own transform from c's.
      const bool from_c = c_ntt != nullptr && levels[i] == 2 && t == 1;
      for (std::size_t l = 0; l < k; ++l) {
        if (from_c && l == i) {
          const auto qi = static_cast<std::uint32_t>(q_dst[i]);
          std::uint64_t inv = 1;  // 2^-w mod q_i: ((q_i + 1) / 2)^w
          for (int b = 0; b < w; ++b) inv = inv * ((q_dst[i] + 1) / 2) % q_dst[i];
          math::gadget_top_digit_ntt_u32(c_ntt->residues(i), out + ((d - 1) * k + l) * n,
                                         static_cast<std::uint32_t>(inv), outs[l], n, qi);
          continue;
        }
        math::ntt_forward_u32(outs[l], math::ntt_tables32(ctx.ntt_tables(l)));
      }
    }
}

namespace {

bool composed_gadget_check(const Context& ctx, int w) {
  if (ctx.moduli_count() != 2 || w < 1 || w > 61) return false;
  for (std::size_t l = 0; l < 2; ++l)
    if (!math::ntt32_available(ctx.ntt_tables(l))) return false;
  const std::size_t levels = gadget_digit_count(ctx.params(), Gadget{w, GadgetBase::composed});
  if (levels < 1 || levels > math::kComposedMaxLevels || static_cast<std::size_t>(w) * (levels - 1) >= 62) return false;
  const math::ComposedGadget g{ctx.modulus(0).value(), ctx.modulus(1).value(), w, levels};
  const std::uint64_t bound = math::composed_digit_bound(g);
  for (std::size_t l = 0; l < 2; ++l)
    if (bound >= ctx.modulus(l).value() || math::max_lazy_terms_u64(ctx.modulus(l)) < levels) return false;
  return true;
}

}  // namespace

bool composed_gadget_supported(const Context& ctx, int w) {
  // Every key switch asks (Evaluator::check_key): the last answer per thread.
  thread_local ParamId last_id{};
  thread_local int last_w = 0;
  thread_local bool last = false;
  if (ctx.param_id() != last_id || w != last_w) {
    last = composed_gadget_check(ctx, w);
    last_id = ctx.param_id();
    last_w = w;
  }
  return last;
}

void gadget_digits_composed_words32(const Context& ctx, const RnsPoly& c, int w, std::uint32_t* out,
                                    const RnsPoly* c_ntt) {
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t q0 = ctx.modulus(0).value(), q1 = ctx.modulus(1).value();
  // The constants of this gadget, made once per thread (every key switch
  // asks): the digits' shape and, per prime, 2^w and 2^(-2w) for the top digit.
  struct Constants {
    math::ComposedShape shape;
    std::uint32_t base[2] = {}, inv[2] = {};
  };
  thread_local Constants cached;
  if (cached.shape.q0 != q0 || cached.shape.q1 != q1 || cached.shape.w != w) {
    const std::size_t levels = gadget_digit_count(ctx.params(), Gadget{w, GadgetBase::composed});
    cached.shape = math::composed_gadget_shape(math::ComposedGadget{q0, q1, w, levels});
    for (std::size_t l = 0; l < 2; ++l) {
      const std::uint64_t q = ctx.modulus(l).value();
      std::uint64_t inv = 1;  // 2^(-2w) mod q: ((q + 1) / 2)^(2w)
      for (int b = 0; b < 2 * w; ++b) inv = inv * ((q + 1) / 2) % q;
      cached.inv[l] = static_cast<std::uint32_t>(inv);
      cached.base[l] = static_cast<std::uint32_t>((std::uint64_t{1} << w) % q);
    }
  }
  const math::ComposedShape& shape = cached.shape;
  const std::size_t levels = shape.levels;
  // Digit d for prime l at out[(2 d + l) N]: the kernel's out[2 t + l].
  std::uint32_t* outs[2 * math::kComposedMaxLevels];
  for (std::size_t t = 0; t < 2 * levels; ++t) outs[t] = out + t * n;
  const bool top_from_c = c_ntt != nullptr && levels == 3;
  const std::size_t lifted = top_from_c ? levels - 1 : levels;
  math::composed_digits_lift_u32(c.residues(0), c.residues(1), shape, lifted, outs, n);
  for (std::size_t t = 0; t < 2 * lifted; ++t) math::ntt_forward_u32(outs[t], math::ntt_tables32(ctx.ntt_tables(t % 2)));
  if (!top_from_c) return;
  for (std::size_t l = 0; l < 2; ++l)
    math::composed_top_digit_ntt_u32(c_ntt->residues(l), outs[l], outs[2 + l], cached.base[l], cached.inv[l],
                                     outs[4 + l], n, static_cast<std::uint32_t>(ctx.modulus(l).value()));
}

void gadget_accumulate_words32(const Context& ctx, const std::uint32_t* digits, const KeySwitchKey& key,
                               RnsPoly& out0, RnsPoly& out1) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count(), total = key.digit_count();
  if (out0.param_id() != ctx.param_id() || out0.size() != n * k) out0 = RnsPoly(ctx, true);
  if (out1.param_id() != ctx.param_id() || out1.size() != n * k) out1 = RnsPoly(ctx, true);
  out0.set_ntt_form(true);
  out1.set_ntt_form(true);
  thread_local std::vector<const std::uint32_t*> rp, bp32, ap32;
  thread_local std::vector<const std::uint64_t*> bp, ap;
  rp.resize(total);
  bp.resize(total);
  ap.resize(total);
  if (key.b32 && key.a32) {
    // The key's 32-bit copy: half the bytes streamed per key switch.
    bp32.resize(total);
    ap32.resize(total);
    for (std::size_t l = 0; l < k; ++l) {
      for (std::size_t d = 0; d < total; ++d) {
        rp[d] = digits + (d * k + l) * n;
        bp32[d] = key.b32->data() + (d * k + l) * n;
        ap32[d] = key.a32->data() + (d * k + l) * n;
      }
      math::dot_pair_reduce_u32(rp.data(), bp32.data(), ap32.data(), total, out0.residues(l), out1.residues(l), n,
                                ctx.modulus(l));
    }
    return;
  }
  // One fused multiply-accumulate-reduce pass per target prime.
  for (std::size_t l = 0; l < k; ++l) {
    for (std::size_t d = 0; d < total; ++d) {
      rp[d] = digits + (d * k + l) * n;
      bp[d] = key.b[d].residues(l);
      ap[d] = key.a[d].residues(l);
    }
    math::dot_pair_reduce_u64_r32(rp.data(), bp.data(), ap.data(), total, out0.residues(l), out1.residues(l), n,
                                  ctx.modulus(l));
  }
}

DecomposedPoly::DecomposedPoly(ContextPtr context, const RnsPoly& c, const Gadget& gadget)
    : context_(std::move(context)), w_(gadget.bits), base_(gadget.base) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "gadget decomposition: null context");
  const Context& ctx = *context_;
  check_poly(c, ctx, "decomposed polynomial");
  require(w_ >= 1 && w_ <= 61, ErrorCode::invalid_argument, "gadget decomposition: width outside 1..61");
  n_ = ctx.poly_degree();
  k_ = ctx.moduli_count();
  coeff_ = c;
  if (coeff_.is_ntt_form()) from_ntt(coeff_, ctx);
  digits_ = key_switch_digits(ctx, gadget);  // throws for an unsupported composed gadget
  if (!fast_for(ctx, gadget)) return;
  digits32_.resize(digits_ * k_ * n_);
  if (base_ == GadgetBase::composed) gadget_digits_composed_words32(ctx, coeff_, w_, digits32_.data());
  else gadget_digits_words32(ctx, coeff_, w_, digits32_.data());
}

bool DecomposedPoly::fast_for(const Context& context, const Gadget& gadget) {
  return gadget.base == GadgetBase::composed ? composed_gadget_supported(context, gadget.bits)
                                             : gadget_words32(context, gadget.bits);
}

void DecomposedPoly::key_switch(const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1) const {
  const Context& ctx = *context_;
  if (!fast()) return Evaluator(context_).key_switch(coeff_, key, out0, out1);
  require(key.gadget() == gadget(), ErrorCode::parameter_mismatch,
          "key switch: the key's gadget differs from the decomposition");
  Evaluator(context_).check_key(key);  // the digits and words this context's gadget has
  gadget_accumulate_words32(ctx, digits32_.data(), key, out0, out1);
}

}  // namespace fhellm::he
