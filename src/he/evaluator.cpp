#include "he/evaluator.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "he/coefficient_rounding.h"
#include "he/gadget_decomposition.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/poly_arith.h"

namespace fhellm::he {

Evaluator::Evaluator(ContextPtr context) : context_(std::move(context)) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "null context");
}

void Evaluator::check_same(const Ciphertext& a, const Ciphertext& b, const char* what) const {
  check_ciphertext_fast(a, what);
  check_ciphertext_fast(b, what);
  require(a.is_ntt_form() == b.is_ntt_form(), ErrorCode::parameter_mismatch,
          std::string(what) + ": operands are in different forms (NTT vs coefficient)");
}

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_same(a, b, "add");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::add_mod(a.c0.residues(i), b.c0.residues(i), a.c0.residues(i), n, ctx.modulus(i));
    math::add_mod(a.c1.residues(i), b.c1.residues(i), a.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_same(a, b, "sub");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::sub_mod(a.c0.residues(i), b.c0.residues(i), a.c0.residues(i), n, ctx.modulus(i));
    math::sub_mod(a.c1.residues(i), b.c1.residues(i), a.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check_ciphertext(a, *context_, "negate");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::negate_mod(a.c0.residues(i), a.c0.residues(i), n, ctx.modulus(i));
    math::negate_mod(a.c1.residues(i), a.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::multiply_scalar_inplace(Ciphertext& a, const std::vector<std::uint64_t>& factor) const {
  check_ciphertext(a, *context_, "multiply_scalar");
  const Context& ctx = *context_;
  require(factor.size() == ctx.moduli_count(), ErrorCode::invalid_argument, "multiply_scalar: one factor per prime");
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    require(factor[i] < ctx.modulus(i).value(), ErrorCode::invalid_argument, "multiply_scalar: factor not reduced");
    math::multiply_scalar_mod(a.c0.residues(i), factor[i], a.c0.residues(i), n, ctx.modulus(i));
    math::multiply_scalar_mod(a.c1.residues(i), factor[i], a.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::add(const Ciphertext& a, const Ciphertext& b, Ciphertext& out) const {
  out = a;
  add_inplace(out, b);
}

void Evaluator::sub(const Ciphertext& a, const Ciphertext& b, Ciphertext& out) const {
  out = a;
  sub_inplace(out, b);
}

void Evaluator::transform_to_ntt_inplace(Ciphertext& ct) const {
  check_ciphertext(ct, *context_, "ciphertext");
  to_ntt(ct.c0, *context_);
  to_ntt(ct.c1, *context_);
}

void Evaluator::transform_from_ntt_inplace(Ciphertext& ct) const {
  check_ciphertext(ct, *context_, "ciphertext");
  from_ntt(ct.c0, *context_);
  from_ntt(ct.c1, *context_);
}

void Evaluator::multiply_plain_inplace(Ciphertext& ct, const PlaintextNtt& pt) const {
  check_ciphertext(ct, *context_, "ciphertext");
  check_poly(pt.poly(), *context_, "plaintext");
  require(ct.is_ntt_form(), ErrorCode::invalid_argument, "plaintext product needs an NTT-form ciphertext");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::multiply_mod(ct.c0.residues(i), pt.poly().residues(i), ct.c0.residues(i), n, ctx.modulus(i));
    math::multiply_mod(ct.c1.residues(i), pt.poly().residues(i), ct.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::multiply_plain(const Ciphertext& ct, const PlaintextNtt& pt, Ciphertext& out) const {
  out = ct;
  multiply_plain_inplace(out, pt);
}

void Evaluator::multiply_plain_add(const Ciphertext& ct, const PlaintextNtt& pt, Ciphertext& acc) const {
  check_same(ct, acc, "multiply_plain_add");
  check_poly(pt.poly(), *context_, "plaintext");
  require(ct.is_ntt_form(), ErrorCode::invalid_argument, "plaintext product needs NTT-form ciphertexts");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    math::multiply_add_mod(ct.c0.residues(i), pt.poly().residues(i), acc.c0.residues(i), n, ctx.modulus(i));
    math::multiply_add_mod(ct.c1.residues(i), pt.poly().residues(i), acc.c1.residues(i), n, ctx.modulus(i));
  }
}

void Evaluator::multiply_monomial_inplace(Ciphertext& ct, std::int64_t exponent) const {
  check_ciphertext(ct, *context_, "ciphertext");
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  const std::int64_t two_n = static_cast<std::int64_t>(2 * n);
  const std::size_t e = static_cast<std::size_t>(((exponent % two_n) + two_n) % two_n);
  if (e == 0) return;
  if (ct.is_ntt_form()) {
    std::vector<std::uint64_t> mono(n);
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      const math::Modulus& q = ctx.modulus(i);
      std::fill(mono.begin(), mono.end(), 0);
      if (e < n) mono[e] = 1;
      else mono[e - n] = q.value() - 1;
      math::ntt_forward(mono.data(), ctx.ntt_tables(i));
      math::multiply_mod(ct.c0.residues(i), mono.data(), ct.c0.residues(i), n, q);
      math::multiply_mod(ct.c1.residues(i), mono.data(), ct.c1.residues(i), n, q);
    }
    return;
  }
  std::vector<std::uint64_t> tmp(n);
  for (RnsPoly* p : {&ct.c0, &ct.c1}) {
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      const math::Modulus& q = ctx.modulus(i);
      std::uint64_t* r = p->residues(i);
      for (std::size_t j = 0; j < n; ++j) {
        const std::size_t t = (j + e) % (2 * n);
        if (t < n) tmp[t] = r[j];
        else tmp[t - n] = q.negate(r[j]);
      }
      std::copy(tmp.begin(), tmp.end(), r);
    }
  }
}

void Evaluator::apply_automorphism(const RnsPoly& in, std::uint64_t galois_elt, RnsPoly& out) const {
  const Context& ctx = *context_;
  check_poly(in, ctx, "automorphism input");
  const std::size_t n = ctx.poly_degree();
  require((galois_elt & 1) == 1 && galois_elt < 2 * n, ErrorCode::invalid_argument,
          "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  require(&in != &out, ErrorCode::invalid_argument, "automorphism cannot run in place");
  if (out.param_id() != in.param_id() || out.size() != in.size()) out = RnsPoly(ctx, in.is_ntt_form());
  out.set_ntt_form(in.is_ntt_form());
  if (in.is_ntt_form()) {
    const std::vector<std::uint32_t>& perm = ctx.automorphism_permutation(galois_elt);
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      const std::uint64_t* src = in.residues(i);
      std::uint64_t* dst = out.residues(i);
      for (std::size_t j = 0; j < n; ++j) dst[j] = src[perm[j]];
    }
    return;
  }
  const std::uint64_t mask = 2 * n - 1;
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    const std::uint64_t* src = in.residues(i);
    std::uint64_t* dst = out.residues(i);
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t e = (j * galois_elt) & mask;
      if (e < n) dst[e] = src[j];
      else dst[e - n] = q.negate(src[j]);
    }
  }
}

namespace {

// Scratch of the key switch, reused across calls on one thread (resized, never
// zero-filled: the first digit overwrites the accumulators).
struct KeySwitchScratch {
  std::vector<std::uint64_t> lifted;
  std::vector<std::uint64_t> acc0, acc1, acc0_hi, acc1_hi;
  std::vector<math::u128> acc0_w, acc1_w;
};

// Makes `p` a polynomial of ctx's shape; allocates only when it is not one yet.
void shape_like(RnsPoly& p, const Context& ctx, bool ntt_form) {
  if (p.param_id() != ctx.param_id() || p.size() != ctx.poly_degree() * ctx.moduli_count() ||
      p.poly_degree() != ctx.poly_degree()) {
    p = RnsPoly(ctx, ntt_form);
  }
  p.set_ntt_form(ntt_form);
}

}  // namespace

void Evaluator::check_key(const KeySwitchKey& key) const {
  const Context& ctx = *context_;
  const std::size_t k = ctx.moduli_count();
  const int w = key.decomposition_bits;
  bool gadget_ok = false;
  std::size_t total = 0;
  if (key.base == GadgetBase::composed) {
    gadget_ok = key.digits_per_prime.empty() && composed_gadget_supported(ctx, w);
    if (gadget_ok) total = gadget_digit_count(ctx.params(), key.gadget());
  } else {
    gadget_ok = key.base == GadgetBase::per_prime && w >= 1 && w <= 61 && key.digits_per_prime.size() == k;
    for (std::size_t i = 0; gadget_ok && i < k; ++i) {
      gadget_ok = key.digits_per_prime[i] == static_cast<std::size_t>((ctx.modulus(i).bit_count() + w - 1) / w);
      total += key.digits_per_prime[i];
    }
  }
  if (!gadget_ok) {
    throw Error(ErrorCode::parameter_mismatch, "key switching key does not match this context's gadget");
  }
  if (key.digit_count() != total || (!key.b.empty() && key.a.size() != total)) {
    throw Error(ErrorCode::parameter_mismatch, "key switching key has " + std::to_string(key.digit_count()) +
                                                   " digits, expected " + std::to_string(total));
  }
  if (key.b.empty()) {
    // Held in its 32-bit words only (drop_key_words64).
    const std::size_t words = total * k * ctx.poly_degree();
    if (!key.b32 || !key.a32 || key.b32->size() != words || key.a32->size() != words)
      throw Error(ErrorCode::parameter_mismatch, "key switching key without its words for this context");
    return;
  }
  for (std::size_t d = 0; d < total; ++d) {
    check_poly_fast(key.b[d], "key switching key");
    check_poly_fast(key.a[d], "key switching key");
  }
}

void Evaluator::check_poly_fast(const RnsPoly& poly, const char* what) const {
  const Context& ctx = *context_;
  // The throwing check builds its messages eagerly: run it only on a mismatch.
  if (poly.param_id() != ctx.param_id() || poly.poly_degree() != ctx.poly_degree() ||
      poly.moduli_count() != ctx.moduli_count() || poly.size() != ctx.poly_degree() * ctx.moduli_count()) {
    check_poly(poly, ctx, what);
  }
}

void Evaluator::check_ciphertext_fast(const Ciphertext& ct, const char* what) const {
  check_poly_fast(ct.c0, what);
  check_poly_fast(ct.c1, what);
  if (ct.c0.is_ntt_form() != ct.c1.is_ntt_form()) check_ciphertext(ct, *context_, what);
}

void Evaluator::key_switch(const RnsPoly& c, const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1) const {
  check_poly_fast(c, "key switch input");
  require(!c.is_ntt_form(), ErrorCode::invalid_argument, "key switch input must be in coefficient form");
  check_key(key);
  key_switch_unchecked(c, key, out0, out1);
}

void Evaluator::key_switch_unchecked(const RnsPoly& c, const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1,
                                     const RnsPoly* c_ntt) const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const int w = key.decomposition_bits;
  const bool composed = key.base == GadgetBase::composed;
  thread_local KeySwitchScratch scratch;
  KeySwitchScratch& s = scratch;

  // Primes below 2^32: exact 64-bit lazy sums (vectorized 32x32 products).
  std::size_t small_terms = ~std::size_t{0};
  for (std::size_t l = 0; l < k; ++l) small_terms = std::min(small_terms, math::max_lazy_terms_u64(ctx.modulus(l)));
  const bool small_primes = small_terms > 0;
  // Primes below 2^50: products split at bit 52 into two 64-bit sums (IFMA).
  bool split52 = !small_primes;
  for (std::size_t l = 0; l < k; ++l) split52 = split52 && ctx.modulus(l).value() < (std::uint64_t{1} << 50);
  const std::size_t total = key.digit_count();
  // Lifts digit (i, t) of c to q_l; digits whose top value might not fit q_l
  // take a full signed reduction.
  auto lift = [&](std::size_t i, std::size_t t, std::size_t l, std::uint64_t* r) {
    const math::Modulus& qi = ctx.modulus(i);
    const math::Modulus& ql = ctx.modulus(l);
    const std::size_t levels = key.digits_per_prime[i];
    const math::GadgetDigit digit{qi.value(), w, levels, t};
    if (math::gadget_digit_bound(qi.value(), w, levels) < ql.value()) {
      math::gadget_digit_lift(c.residues(i), digit, ql.value(), r, n);
      return;
    }
    constexpr std::uint64_t top = std::uint64_t{1} << 63;
    math::gadget_digit_lift_reference(c.residues(i), digit, top, r, n);  // d + 2^63 when d < 0
    for (std::size_t j = 0; j < n; ++j) {
      r[j] = r[j] >= (top >> 1) ? ql.from_signed(static_cast<std::int64_t>(r[j] - top)) : ql.reduce(r[j]);
    }
  };

  // Usual case: every digit of one target prime transformed, then one fused
  // multiply-accumulate-reduce pass per target prime (no accumulator arrays).
  if ((small_primes && total <= small_terms) || (split52 && total <= math::kDotSplit52MaxTerms)) {
    shape_like(out0, ctx, true);
    shape_like(out1, ctx, true);
    // 32-bit digits and NTTs (8 or 16 lanes) when every prime allows (always
    // for a composed key: check_key admitted it only there).
    if (small_primes && (composed || gadget_words32(ctx, w))) {
      thread_local std::vector<std::uint32_t> lifted32;
      lifted32.resize(total * k * n);
      if (composed) gadget_digits_composed_words32(ctx, c, w, lifted32.data(), c_ntt);
      else gadget_digits_words32(ctx, c, w, lifted32.data(), c_ntt);
      gadget_accumulate_words32(ctx, lifted32.data(), key, out0, out1);
      return;
    }
    s.lifted.resize(total * n);
    thread_local std::vector<const std::uint64_t*> rp, bp, ap;
    rp.resize(total);
    bp.resize(total);
    ap.resize(total);
    for (std::size_t l = 0; l < k; ++l) {
      std::size_t d = 0;
      for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t t = 0; t < key.digits_per_prime[i]; ++t, ++d) {
          std::uint64_t* r = s.lifted.data() + d * n;
          lift(i, t, l, r);
          math::ntt_forward(r, ctx.ntt_tables(l));
          rp[d] = r;
          bp[d] = key.b[d].residues(l);
          ap[d] = key.a[d].residues(l);
        }
      }
      if (small_primes) {
        math::dot_pair_reduce_u64(rp.data(), bp.data(), ap.data(), total, out0.residues(l), out1.residues(l), n,
                                  ctx.modulus(l));
      } else {
        math::dot_pair_reduce_split52(rp.data(), bp.data(), ap.data(), total, out0.residues(l), out1.residues(l), n,
                                      ctx.modulus(l));
      }
    }
    return;
  }

  if (small_primes || split52) {
    s.acc0.resize(k * n);
    s.acc1.resize(k * n);
  }
  if (split52) {
    s.acc0_hi.resize(k * n);
    s.acc1_hi.resize(k * n);
  } else if (!small_primes) {
    s.acc0_w.assign(k * n, 0);
    s.acc1_w.assign(k * n, 0);
  }
  s.lifted.resize(n);
  std::uint64_t* r = s.lifted.data();

  // Fold accumulators before 2^128 / q^2 terms pile up.
  std::uint64_t q_max = 0;
  for (std::size_t l = 0; l < k; ++l) q_max = std::max(q_max, ctx.modulus(l).value());
  const long double capacity = std::ldexp(1.0L, 128) / (static_cast<long double>(q_max) * q_max);
  const std::size_t fold_every = small_primes ? std::min<std::size_t>(small_terms, 1000000)
                                 : split52      ? 2000  // 2^11 terms of < 2^52 each fit 64 bits, with the folded residue
                                                : (capacity > 1e6L ? 1000000 : static_cast<std::size_t>(capacity) - 1);
  std::size_t since_fold = 0;

  std::size_t d = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t levels = key.digits_per_prime[i];
    for (std::size_t t = 0; t < levels; ++t, ++d) {
      for (std::size_t l = 0; l < k; ++l) {
        lift(i, t, l, r);
        math::ntt_forward(r, ctx.ntt_tables(l));
        const bool first = d == 0;  // overwrite: no zero-fill
        const std::uint64_t* kb = key.b[d].residues(l);
        const std::uint64_t* ka = key.a[d].residues(l);
        if (small_primes) {
          math::multiply_accumulate_pair_u64(r, kb, ka, s.acc0.data() + l * n, s.acc1.data() + l * n, n, first);
        } else if (split52) {
          math::multiply_accumulate_pair_split52(r, kb, ka, s.acc0.data() + l * n, s.acc0_hi.data() + l * n,
                                                 s.acc1.data() + l * n, s.acc1_hi.data() + l * n, n, first);
        } else {
          math::multiply_accumulate_u128(r, kb, s.acc0_w.data() + l * n, n);
          math::multiply_accumulate_u128(r, ka, s.acc1_w.data() + l * n, n);
        }
      }
      if (++since_fold == fold_every) {
        for (std::size_t l = 0; l < k; ++l) {
          const math::Modulus& ql = ctx.modulus(l);
          const std::size_t o = l * n;
          if (small_primes) {
            math::reduce_u64_fast(s.acc0.data() + o, s.acc0.data() + o, n, ql);
            math::reduce_u64_fast(s.acc1.data() + o, s.acc1.data() + o, n, ql);
          } else if (split52) {
            math::reduce_split52_fast(s.acc0.data() + o, s.acc0_hi.data() + o, s.acc0.data() + o, n, ql);
            math::reduce_split52_fast(s.acc1.data() + o, s.acc1_hi.data() + o, s.acc1.data() + o, n, ql);
            std::fill_n(s.acc0_hi.data() + o, n, 0);
            std::fill_n(s.acc1_hi.data() + o, n, 0);
          } else {
            for (std::size_t j = 0; j < n; ++j) {
              s.acc0_w[o + j] = ql.reduce(s.acc0_w[o + j]);
              s.acc1_w[o + j] = ql.reduce(s.acc1_w[o + j]);
            }
          }
        }
        since_fold = 0;
      }
    }
  }
  shape_like(out0, ctx, true);
  shape_like(out1, ctx, true);
  for (std::size_t l = 0; l < k; ++l) {
    const math::Modulus& ql = ctx.modulus(l);
    const std::size_t o = l * n;
    if (small_primes) {
      math::reduce_u64_fast(s.acc0.data() + o, out0.residues(l), n, ql);
      math::reduce_u64_fast(s.acc1.data() + o, out1.residues(l), n, ql);
    } else if (split52) {
      math::reduce_split52_fast(s.acc0.data() + o, s.acc0_hi.data() + o, out0.residues(l), n, ql);
      math::reduce_split52_fast(s.acc1.data() + o, s.acc1_hi.data() + o, out1.residues(l), n, ql);
    } else {
      math::reduce_u128(s.acc0_w.data() + o, out0.residues(l), n, ql);
      math::reduce_u128(s.acc1_w.data() + o, out1.residues(l), n, ql);
    }
  }
}

void Evaluator::apply_galois_inplace(Ciphertext& ct, std::uint64_t galois_elt, const GaloisKeys& keys) const {
  apply_galois(ct, galois_elt, keys, ct);
}

void Evaluator::apply_galois(const Ciphertext& in, std::uint64_t galois_elt, const GaloisKeys& keys,
                             Ciphertext& out) const {
  const Context& ctx = *context_;
  check_ciphertext_fast(in, "ciphertext");
  const auto found = keys.keys().find(galois_elt);
  const KeySwitchKey& key = found != keys.keys().end() ? found->second : keys.get(galois_elt);  // get() throws
  if (keys.param_id() != ctx.param_id()) ctx.check_param_id(keys.param_id(), "Galois keys");
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  if ((galois_elt & 1) == 0 || galois_elt >= 2 * n) {
    throw Error(ErrorCode::invalid_argument, "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  }
  check_key(key);
  const bool ntt_form = in.is_ntt_form();
  // Scratch reused on this thread: the automorphism of c1 (coefficient form,
  // the key switch input), of c0, and the key switch's c0 part.
  thread_local RnsPoly t0, t1, t1_ntt, k0;
  shape_like(t0, ctx, ntt_form);
  shape_like(t1, ctx, false);
  if (ntt_form) {
    const std::uint32_t* perm = ctx.automorphism_permutation(galois_elt).data();
    // The permuted c1 kept in NTT form too: the key switch takes some digit
    // transforms from it.
    shape_like(t1_ntt, ctx, true);
    for (std::size_t i = 0; i < k; ++i) {
      math::permute_slots(in.c1.residues(i), perm, t1_ntt.residues(i), n);
      std::copy_n(t1_ntt.residues(i), n, t1.residues(i));
      inverse_ntt_residues(t1.residues(i), ctx, i);
    }
    key_switch_unchecked(t1, key, k0, out.c1, &t1_ntt);  // c1 <- the key switch's mask part (NTT form)
    for (std::size_t i = 0; i < k; ++i) {
      math::permute_slots_add(in.c0.residues(i), perm, k0.residues(i), t0.residues(i), n, ctx.modulus(i).value());
    }
  } else {
    for (std::size_t i = 0; i < k; ++i) {
      math::automorphism_coeff(in.c1.residues(i), galois_elt, ctx.modulus(i).value(), t1.residues(i), n);
    }
    key_switch_unchecked(t1, key, k0, out.c1);
    for (std::size_t i = 0; i < k; ++i) inverse_ntt_residues(out.c1.residues(i), ctx, i);
    out.c1.set_ntt_form(false);
    for (std::size_t i = 0; i < k; ++i) {
      inverse_ntt_residues(k0.residues(i), ctx, i);
      math::automorphism_coeff(in.c0.residues(i), galois_elt, ctx.modulus(i).value(), t0.residues(i), n);
      math::add_mod(t0.residues(i), k0.residues(i), t0.residues(i), n, ctx.modulus(i));
    }
  }
  std::swap(out.c0, t0);
}

SwitchedCiphertext Evaluator::switch_modulus(const Ciphertext& ct, std::uint64_t body_modulus,
                                             std::uint64_t mask_modulus) const {
  const Context& ctx = *context_;
  check_ciphertext(ct, ctx, "ciphertext");
  const std::uint64_t limit = std::uint64_t{1} << 61;
  require(body_modulus >= 2 && body_modulus < limit && mask_modulus >= 2 && mask_modulus < limit,
          ErrorCode::invalid_argument, "switched moduli must be in [2, 2^61)");
  const std::size_t n = ctx.poly_degree();
  Ciphertext coeff = ct;
  from_ntt(coeff.c0, ctx);
  from_ntt(coeff.c1, ctx);
  SwitchedCiphertext out;
  out.param_id = ctx.param_id();
  out.body_modulus = body_modulus;
  out.mask_modulus = mask_modulus;
  out.c0.resize(n);
  out.c1.resize(n);
  round_coefficients(ctx, coeff.c0, body_modulus, out.c0.data());
  round_coefficients(ctx, coeff.c1, mask_modulus, out.c1.data());
  return out;
}

}  // namespace fhellm::he
