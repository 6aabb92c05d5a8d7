#include "he/encryptor.h"

#include <algorithm>
#include <string>

#include "fhellm/error.h"
#include "he/coefficient_rounding.h"
#include "he/prng.h"
#include "math/poly_arith.h"
#include "internal.h"

namespace fhellm::he {

namespace {

// One encryption's fresh randomness: the seed, its mask a (NTT form) and the
// error e (centred binomial), in per-thread scratch: fresh 100-400 KB
// temporaries per call cost more in page faults than the arithmetic (see
// docs/he-benchmarks.md). Valid until the thread's next draw.
struct Draw {
  Seed seed;
  const RnsPoly& a;
  const std::vector<std::int64_t>& e;
};

Draw draw_mask_and_error(const Context& ctx) {
  thread_local RnsPoly a;
  thread_local std::vector<std::int64_t> e;
  const Seed seed = random_seed();
  expand_seed_into(ctx, seed, a);
  Prng noise(random_seed());
  e.resize(ctx.poly_degree());
  noise.fill_centered_binomial(ctx.params().error_binomial_eta, e.data(), e.size());
  return {seed, a, e};
}

}  // namespace

Encryptor::Encryptor(ContextPtr context, const SecretKey& sk) : context_(std::move(context)) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "null context");
  context_->check_param_id(sk.param_id(), "secret key");
  secret_ntt_ = sk.ntt();
}

SeededCiphertext Encryptor::encrypt_poly_seeded(const RnsPoly& plain) const {
  const Context& ctx = *context_;
  check_poly(plain, ctx, "plaintext");
  const std::size_t n = ctx.poly_degree();
  const Draw draw = draw_mask_and_error(ctx);
  const RnsPoly& a = draw.a;
  SeededCiphertext out;
  out.seed = draw.seed;
  // e, plus the plaintext when in coefficient form.
  RnsPoly body = RnsPoly::from_signed(ctx, draw.e.data(), n);
  if (!plain.is_ntt_form()) {
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      const math::Modulus& q = ctx.modulus(i);
      std::uint64_t* r = body.residues(i);
      const std::uint64_t* p = plain.residues(i);
      for (std::size_t j = 0; j < n; ++j) r[j] = q.add(r[j], p[j]);
    }
  }
  to_ntt(body, ctx);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    std::uint64_t* r = body.residues(i);
    const std::uint64_t* ar = a.residues(i);
    const std::uint64_t* sr = secret_ntt_.residues(i);
    const std::uint64_t* p = plain.residues(i);
    for (std::size_t j = 0; j < n; ++j) {
      std::uint64_t v = q.sub(r[j], q.mul(ar[j], sr[j]));  // e - a s
      if (plain.is_ntt_form()) v = q.add(v, p[j]);
      r[j] = v;
    }
  }
  out.c0 = std::move(body);
  return out;
}

SeededRoundedBody Encryptor::encrypt_poly_rounded(const RnsPoly& plain, std::uint64_t modulus) const {
  const Context& ctx = *context_;
  check_poly(plain, ctx, "plaintext");
  require(!plain.is_ntt_form(), ErrorCode::invalid_argument, "encrypt_poly_rounded: the plaintext is in NTT form");
  const std::size_t n = ctx.poly_degree();
  const Draw draw = draw_mask_and_error(ctx);
  const std::vector<std::int64_t>& e = draw.e;
  SeededRoundedBody out;
  out.seed = draw.seed;
  // c0 = e + plain - a s: a s in NTT form, back to coefficients, then the
  // rest coefficientwise.
  RnsPoly body(ctx, true, kUninitialized);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
    math::multiply_mod(draw.a.residues(i), secret_ntt_.residues(i), body.residues(i), n, ctx.modulus(i));
  from_ntt(body, ctx);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    std::uint64_t* r = body.residues(i);
    const std::uint64_t* p = plain.residues(i);
    for (std::size_t j = 0; j < n; ++j) {
      // |e| < q: one conditional correction puts it in [0, q).
      const std::uint64_t ej = e[j] < 0 ? q.value() - static_cast<std::uint64_t>(-e[j]) : static_cast<std::uint64_t>(e[j]);
      r[j] = q.add(q.sub(p[j], r[j]), ej);
    }
  }
  out.body.resize(n);
  round_coefficients(ctx, body, modulus, out.body.data());
  return out;
}

SeededCiphertext Encryptor::encrypt_seeded(const std::int64_t* message, std::size_t count, const Scale& scale) const {
  const Context& ctx = *context_;
  ctx.check_param_id(scale.param_id(), "scale");
  require(count <= ctx.poly_degree(), ErrorCode::invalid_argument,
          std::to_string(count) + " values do not fit a ciphertext of degree " + std::to_string(ctx.poly_degree()));
  const std::int64_t bound = scale.max_message();
  for (std::size_t j = 0; j < count; ++j) {
    if (message[j] > bound || message[j] < -bound) {
      throw Error(ErrorCode::invalid_argument, "message value at index " + std::to_string(j) + " is outside [-" +
                                                   std::to_string(bound) + ", " + std::to_string(bound) + "]");
    }
  }
  thread_local RnsPoly plain;
  if (plain.param_id() != ctx.param_id() || plain.size() != ctx.poly_degree() * ctx.moduli_count()) {
    plain = RnsPoly(ctx, false);
  }
  plain.set_ntt_form(false);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    const math::ShoupConstant delta(scale.delta_residues()[i], q);
    std::uint64_t* r = plain.residues(i);
    for (std::size_t j = 0; j < count; ++j) r[j] = math::mul_shoup(q.from_signed(message[j]), delta, q.value());
    std::fill(r + count, r + ctx.poly_degree(), 0);
  }
  return encrypt_poly_seeded(plain);
}

Ciphertext Encryptor::encrypt(const std::int64_t* message, std::size_t count, const Scale& scale) const {
  return expand(*context_, encrypt_seeded(message, count, scale));
}

Ciphertext Encryptor::encrypt_zero() const { return expand(*context_, encrypt_poly_seeded(RnsPoly(*context_, false))); }

}  // namespace fhellm::he
