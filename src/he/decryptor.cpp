#include "he/decryptor.h"

#include <bit>
#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "he/coefficient_rounding.h"
#include "internal.h"

namespace fhellm::he {
namespace {

using math::WideInt;

// m = round(num / den) (den > 0), exact; returns m and sets rem = num - m den.
std::int64_t round_divide(const WideInt& num, const WideInt& den, long double den_ld, WideInt& rem) {
  long double estimate = std::nearbyint(num.to_long_double() / den_ld);
  if (estimate > 9.0e18L) estimate = 9.0e18L;
  if (estimate < -9.0e18L) estimate = -9.0e18L;
  std::int64_t m = static_cast<std::int64_t>(estimate);
  rem = num - den.times(m);
  // |rem| <= den / 2  <=>  2 rem in [-den, den].
  for (int guard = 0; guard < 4; ++guard) {
    const WideInt twice = rem + rem;
    if (den < twice) {
      ++m;
      rem -= den;
    } else if (twice < -den) {
      --m;
      rem += den;
    } else {
      break;
    }
  }
  return m;
}

void finish(Decrypted& out, const Scale& scale) {
  double max_noise = 0;
  for (double e : out.noise) max_noise = std::max(max_noise, std::fabs(e));
  out.max_abs_noise = max_noise;
  const double half_delta_bits = static_cast<double>(std::log2(scale.delta().to_long_double())) - 1.0;
  out.noise_budget_bits = half_delta_bits - std::log2(std::max(max_noise, 1.0));
}

}  // namespace

Decryptor::Decryptor(ContextPtr context, const SecretKey& sk) : context_(std::move(context)) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "null context");
  context_->check_param_id(sk.param_id(), "secret key");
  secret_ = sk.coefficients();
  secret_ntt_ = sk.ntt();
  secret_aux_ntt_ = ternary_aux_ntt(*context_, secret_);
}

RnsPoly Decryptor::phase(const Ciphertext& ct) const {
  const Context& ctx = *context_;
  check_ciphertext(ct, ctx, "ciphertext");
  RnsPoly c1 = ct.c1;
  to_ntt(c1, ctx);
  const std::size_t n = ctx.poly_degree();
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    std::uint64_t* r = c1.residues(i);
    const std::uint64_t* s = secret_ntt_.residues(i);
    for (std::size_t j = 0; j < n; ++j) r[j] = q.mul(r[j], s[j]);
  }
  from_ntt(c1, ctx);
  RnsPoly c0 = ct.c0;
  from_ntt(c0, ctx);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    std::uint64_t* r = c1.residues(i);
    const std::uint64_t* b = c0.residues(i);
    for (std::size_t j = 0; j < n; ++j) r[j] = q.add(r[j], b[j]);
  }
  return c1;
}

Decrypted Decryptor::decode(const RnsPoly& phase, const Scale& scale) const {
  return decode_impl(phase, scale, nullptr);
}

Decrypted Decryptor::measure(const Ciphertext& ct, const Scale& scale, const std::vector<std::int64_t>& expected) const {
  require(expected.size() == context_->poly_degree(), ErrorCode::invalid_argument, "expected message needs N values");
  return decode_impl(phase(ct), scale, &expected);
}

Decrypted Decryptor::measure(const SwitchedCiphertext& ct, const Scale& scale,
                             const std::vector<std::int64_t>& expected) const {
  require(expected.size() == context_->poly_degree(), ErrorCode::invalid_argument, "expected message needs N values");
  return switched_impl(ct, scale, &expected);
}

Decrypted Decryptor::decode_impl(const RnsPoly& phase, const Scale& scale,
                                 const std::vector<std::int64_t>* expected) const {
  const Context& ctx = *context_;
  check_poly(phase, ctx, "phase");
  ctx.check_param_id(scale.param_id(), "scale");
  require(!phase.is_ntt_form(), ErrorCode::invalid_argument, "phase must be in coefficient form");
  const std::size_t n = ctx.poly_degree();
  const std::size_t k = ctx.moduli_count();
  Decrypted out;
  out.message.resize(n);
  out.noise.resize(n);
  const math::RnsBasis& basis = ctx.coeff_basis();
  if (basis.product().bit_length() <= 62) {
    // Q < 2^62: CRT and rounding in 128-bit integers.
    const CrtWord crt(ctx);
    const std::uint64_t q64 = crt.modulus();
    const std::int64_t delta = static_cast<std::int64_t>(scale.delta().word(0));
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t x = crt(phase, j);
      const std::int64_t c = x > q64 / 2 ? static_cast<std::int64_t>(x) - static_cast<std::int64_t>(q64)
                                         : static_cast<std::int64_t>(x);
      const std::int64_t m = expected ? (*expected)[j]
                                      : (c >= 0 ? (c + delta / 2) / delta : -((-c + delta / 2) / delta));
      out.message[j] = m;
      out.noise[j] = static_cast<double>(static_cast<__int128>(c) - static_cast<__int128>(m) * delta);
    }
    finish(out, scale);
    return out;
  }
  const long double delta_ld = scale.delta().to_long_double();
  std::uint64_t residues[math::RnsBasis::kMaxModuli];
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = 0; i < k; ++i) residues[i] = phase.residues(i)[j];
    const WideInt c = ctx.coeff_basis().compose_centered(residues);
    WideInt rem;
    if (expected) {
      out.message[j] = (*expected)[j];
      rem = c - scale.delta().times(out.message[j]);
    } else {
      out.message[j] = round_divide(c, scale.delta(), delta_ld, rem);
    }
    out.noise[j] = static_cast<double>(rem.to_long_double());
  }
  finish(out, scale);
  return out;
}

Decrypted Decryptor::decrypt(const Ciphertext& ct, const Scale& scale) const { return decode(phase(ct), scale); }

Decrypted Decryptor::decrypt(const SwitchedCiphertext& ct, const Scale& scale) const {
  return switched_impl(ct, scale, nullptr);
}

// The replies' case (power-of-two moduli, qb qm <= 2^62, a mask small
// enough for one aux prime): the torus phase in 64-bit words, the rounding
// in double (error < 2^-25 for t <= 2^27), exact where a value sits within
// 0.001 of a rounding boundary.
Decrypted Decryptor::switched_pow2(const SwitchedCiphertext& ct, const Scale& scale) const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t qb = ct.body_modulus, qm = ct.mask_modulus, d = qb * qm;
  const std::vector<std::uint64_t> u = multiply_by_ternary_mod_pow2(ctx, ct.c1.data(), secret_aux_ntt_, qm);
  const WideInt q_big = ctx.coeff_basis().product();
  const WideInt den = WideInt::from_u128(d) * scale.delta();
  const long double den_ld = den.to_long_double();
  const double per_unit = static_cast<double>(scale.ratio() / static_cast<long double>(d));
  const double delta = static_cast<double>(scale.delta().to_long_double());
  const bool fast = scale.ratio() < 0x1p40L;
  Decrypted out;
  out.message.resize(n);
  out.noise.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t num = ((ct.c0[j] & (qb - 1)) * qm + u[j] * qb) & (d - 1);  // u < qm
    const std::int64_t centered = num > d / 2 ? -static_cast<std::int64_t>(d - num) : static_cast<std::int64_t>(num);
    if (fast) {
      const double v = static_cast<double>(centered) * per_unit;
      const double rounded = std::nearbyint(v);
      const double frac = v - rounded;
      if (frac < 0.499 && frac > -0.499) {
        out.message[j] = static_cast<std::int64_t>(rounded);
        out.noise[j] = frac * delta;
        continue;
      }
    }
    WideInt rem;
    out.message[j] = round_divide(WideInt::from_i128(centered) * q_big, den, den_ld, rem);
    out.noise[j] = static_cast<double>(rem.to_long_double() / static_cast<long double>(d));
  }
  finish(out, scale);
  return out;
}

Decrypted Decryptor::switched_impl(const SwitchedCiphertext& ct, const Scale& scale,
                                   const std::vector<std::int64_t>* expected) const {
  const Context& ctx = *context_;
  ctx.check_param_id(ct.param_id, "switched ciphertext");
  ctx.check_param_id(scale.param_id(), "scale");
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t qb = ct.body_modulus, qm = ct.mask_modulus;
  require(qb >= 2 && qm >= 2 && qb < (std::uint64_t{1} << 61) && qm < (std::uint64_t{1} << 61) && ct.c0.size() == n &&
              ct.c1.size() == n,
          ErrorCode::parameter_mismatch, "switched ciphertext has the wrong shape");
  if (!expected && std::has_single_bit(qb) && std::has_single_bit(qm) &&
      std::countr_zero(qb) + std::countr_zero(qm) <= 62 && qm <= small_ternary_operand_bound(ctx))
    return switched_pow2(ct, scale);
  // u = c1 * s mod q_mask, exactly.
  const std::vector<__int128> c1s = multiply_by_ternary_exact(ctx, ct.c1.data(), secret_aux_ntt_);
  // Torus phase  c0/qb + u/qm = num / (qb qm)  (mod 1), then
  // m = round(num * Q / (qb qm Delta)).
  const unsigned __int128 d = static_cast<unsigned __int128>(qb) * qm;
  const WideInt q_big = ctx.coeff_basis().product();
  const WideInt den = WideInt::from_u128(d) * scale.delta();
  const long double den_ld = den.to_long_double();
  const long double ratio = scale.ratio();
  const long double d_ld = static_cast<long double>(d);
  const long double delta_ld = scale.delta().to_long_double();
  const bool fast = ratio < 0x1p40L;
  Decrypted out;
  out.message.resize(n);
  out.noise.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    __int128 u = c1s[j] % static_cast<__int128>(qm);
    if (u < 0) u += qm;
    unsigned __int128 num = (static_cast<unsigned __int128>(ct.c0[j]) * qm + static_cast<unsigned __int128>(u) * qb) % d;
    const __int128 centered = num > d / 2 ? -static_cast<__int128>(d - num) : static_cast<__int128>(num);
    if (!expected && fast) {
      // phase/Delta = (num/D) * (Q/Delta) in long double (64-bit mantissa):
      // error < 2^-40 for t <= 2^20 ... 2^40; accept when clearly not at a
      // rounding boundary, else fall through to the exact path.
      const long double v = static_cast<long double>(centered) / d_ld * ratio;
      const long double rounded = static_cast<long double>(static_cast<long long>(v + (v >= 0 ? 0.5L : -0.5L)));
      const long double frac = v - rounded;
      if (frac < 0.499L && frac > -0.499L) {
        out.message[j] = static_cast<std::int64_t>(rounded);
        out.noise[j] = static_cast<double>(frac * delta_ld);
        continue;
      }
    }
    const WideInt numerator = WideInt::from_i128(centered) * q_big;
    WideInt rem;
    if (expected) {
      out.message[j] = (*expected)[j];
      rem = numerator - den.times(out.message[j]);
    } else {
      out.message[j] = round_divide(numerator, den, den_ld, rem);
    }
    // rem / (qb qm) is the error in phase units of R_Q.
    out.noise[j] = static_cast<double>(rem.to_long_double() / static_cast<long double>(d));
  }
  finish(out, scale);
  return out;
}

}  // namespace fhellm::he
