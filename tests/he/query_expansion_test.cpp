// The embedding lookup's building blocks: query expansion (every output holds
// exactly its coefficients, noise within the model of lookup_layout.cpp) and
// selection keys (the external product multiplies by the encrypted bit; the
// CMux gate picks its input).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fhellm/error.h"
#include "he/decryptor.h"
#include "he/hoisted_galois.h"
#include "he/encryptor.h"
#include "he/linear.h"
#include "he/lookup_layout.h"
#include "he/query_expansion.h"
#include "he/rgsw.h"

namespace fhellm::he {
namespace {

struct Keys {
  ContextPtr ctx = Context::get(ParamId::n2048_q54);
  SecretKey sk = SecretKey::generate(*ctx);
  GaloisKeys expansion = make_galois_keys(*ctx, sk, linear_sequential_galois_elements(ctx->poly_degree()),
                                          linear_sequential_decomposition_bits(ParamId::n2048_q54));
  KeySwitchKey square = make_square_key(*ctx, sk, kLookupSquareKeyBits);
};
Keys& keys() {
  static Keys k;
  return k;
}

TEST(QueryExpansion, EveryOutputHoldsItsCoefficients) {
  const Context& ctx = *keys().ctx;
  const std::size_t n = ctx.poly_degree();
  const Scale scale = Scale::from_plain_modulus(ctx, 256);
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> m(n);
  for (auto& v : m) v = static_cast<std::int64_t>(rng() % 255) - 127;
  const Encryptor enc(keys().ctx, keys().sk);
  const Decryptor dec(keys().ctx, keys().sk);
  const Evaluator ev(keys().ctx);
  for (int levels : {1, 5, 6}) {
    const std::size_t outputs = (std::size_t{1} << levels) - 3 + (levels == 1 ? 2 : 0);
    const auto out = expand_query(ev, enc.encrypt(m.data(), n, scale), levels, outputs, keys().expansion, 2);
    ASSERT_EQ(out.size(), outputs);
    double worst = 0;
    for (std::size_t a = 0; a < outputs; ++a) {
      std::vector<std::int64_t> want(n, 0);
      for (std::size_t k = 0; a + (k << levels) < n; ++k) want[k << levels] = m[a + (k << levels)];
      const Decrypted d = dec.measure(out[a], scale, want);
      EXPECT_GT(d.noise_budget_bits, 0) << "output " << a << " of " << levels << " levels";
      worst = std::max(worst, d.max_abs_noise);
    }
    // The model of lookup_layout.cpp: fresh error, then level l's key switch
    // doubled by each later level (std per coefficient; 7.6 sigma bound).
    const double v_exp = 12.0 * n * std::exp2(10.0) / 12.0 * kErrorVariance;
    double var = kErrorVariance;
    for (int l = 0; l < levels; ++l) var += std::exp2(2.0 * (levels - 1 - l)) * v_exp;
    std::printf("[expansion] %d levels: max |noise| 2^%.1f, model 7.6 sigma 2^%.1f\n", levels, std::log2(worst),
                std::log2(7.6 * std::sqrt(var)));
    EXPECT_LT(worst, 7.6 * std::sqrt(var));
  }
}

// The sparse select record (docs/embedding.md): the scalars sit at i 2^a and
// only the positions p with p mod 2^(m + a) = i 2^a, i below the kept
// outputs, carry the body; the others are zero, so their phase is -(a s)_p,
// garbage. The a trace levels (one key switch each) run first and zero every
// position that is not a multiple of 2^a; the expansion's levels with
// j <= 5 run on the input-side keys; every kept output holds exactly its
// coefficients, within the lookup's noise model.
TEST(QueryExpansion, SparseRecordsReachOnlyTheKeptOutputs) {
  const Context& ctx = *keys().ctx;
  const std::size_t n = ctx.poly_degree();
  const ParamId id = ParamId::n2048_q54;
  static const GaloisKeys input_keys = make_galois_keys(
      ctx, keys().sk, composed_galois_elements(n, kLinearHoistedLevels), linear_input_decomposition_bits(id));
  static const HoistedGaloisKeys input_hoisted(ctx, input_keys);
  const Scale scale = Scale::from_plain_modulus(ctx, 256);
  std::mt19937_64 rng(9);
  std::vector<std::int64_t> m(n);
  for (auto& v : m) v = static_cast<std::int64_t>(rng() % 255) - 127;
  const Encryptor enc(keys().ctx, keys().sk);
  const Decryptor dec(keys().ctx, keys().sk);
  const Evaluator ev(keys().ctx);
  const int m_levels = 6, trace = 3, total = m_levels + trace;
  const std::size_t outputs = 36, period = std::size_t{1} << total, step = std::size_t{1} << trace;
  Ciphertext ct = enc.encrypt(m.data(), n, scale);
  ev.transform_from_ntt_inplace(ct);
  auto sent = [&](std::size_t p) { return p % period % step == 0 && p % period / step < outputs; };
  for (std::size_t l = 0; l < ctx.moduli_count(); ++l)
    for (std::size_t p = 0; p < n; ++p)
      if (!sent(p)) ct.c0.residues(l)[p] = 0;  // unsent: garbage phase
  // Without the trace levels the garbage reaches the outputs: output 0 of a
  // plain expansion reads the positions 64 k, some of them unsent.
  const auto plain = expand_query(ev, ct, m_levels, outputs, keys().expansion, &input_hoisted, 0, 2);
  std::vector<std::int64_t> want(n, 0);
  for (std::size_t k = 0; k * 64 < n; ++k) want[k * 64] = m[k * 64];
  EXPECT_LE(dec.measure(plain[0], scale, want).noise_budget_bits, 0.0);
  const auto out = expand_query(ev, ct, total, outputs, keys().expansion, &input_hoisted, trace, 2);
  ASSERT_EQ(out.size(), outputs);
  // Without the input-side keys the levels with j <= 5 have none.
  EXPECT_THROW(expand_query(ev, ct, total, outputs, keys().expansion, nullptr, trace, 2), Error);
  EXPECT_THROW(expand_query(ev, ct, total, 65, keys().expansion, &input_hoisted, trace, 2), Error);  // > 2^m
  // The model (lookup_layout.cpp): level l's key switch, on the sequential
  // keys (5 bits, 12 digits) for j = 11 - l >= 6 and on the input-side keys
  // (6 bits, 10 digits) below, doubled by each later level.
  double var = kErrorVariance;
  for (int l = 0; l < total; ++l) {
    const double v = 11 - l >= 6 ? 12.0 * n * std::exp2(10.0) / 12.0 * kErrorVariance
                                 : 10.0 * n * std::exp2(12.0) / 12.0 * kErrorVariance;
    var += std::exp2(2.0 * (total - 1 - l)) * v;
  }
  double worst = 0;
  for (std::size_t a = 0; a < outputs; ++a) {
    std::vector<std::int64_t> one(n, 0);
    for (std::size_t k = 0; a * step + k * period < n; ++k) one[k * period] = m[a * step + k * period];
    const Decrypted d = dec.measure(out[a], scale, one);
    EXPECT_GT(d.noise_budget_bits, 0) << "output " << a;
    worst = std::max(worst, d.max_abs_noise);
  }
  std::printf("[expansion] %d trace + %d levels: max |noise| 2^%.1f, model 7.6 sigma 2^%.1f\n", trace, m_levels,
              std::log2(worst), std::log2(7.6 * std::sqrt(var)));
  EXPECT_LT(worst, 7.6 * std::sqrt(var));
}

TEST(QueryExpansion, RefusesBadArguments) {
  const Evaluator ev(keys().ctx);
  const Encryptor enc(keys().ctx, keys().sk);
  const Ciphertext ct = enc.encrypt_zero();
  EXPECT_THROW(expand_query(ev, ct, 2, 5, keys().expansion), Error);  // more outputs than 2^levels
  try {
    (void)expand_query(ev, ct, 6, 2, GaloisKeys{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_galois_key);
  }
}

// Encryptions of b g_d for every digit of the selection gadget (what the
// expansion hands make_selection_key).
std::vector<Ciphertext> scaled_gadget(int b) {
  const Context& ctx = *keys().ctx;
  const Encryptor enc(keys().ctx, keys().sk);
  const auto digits = gadget_digits(ctx, kLookupSelectDecompositionBits);
  std::vector<Ciphertext> out;
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
    for (std::size_t j = 0; j < digits[i]; ++j) {
      RnsPoly plain(ctx, false);
      if (b == 1) plain.residues(i)[0] = ctx.modulus(i).pow(2, kLookupSelectDecompositionBits * j);
      out.push_back(expand(ctx, enc.encrypt_poly_seeded(plain)));
    }
  return out;
}

TEST(SelectionKey, ExternalProductAndSelect) {
  const Context& ctx = *keys().ctx;
  const std::size_t n = ctx.poly_degree();
  const Scale scale = Scale::from_plain_modulus(ctx, 256);
  const Encryptor enc(keys().ctx, keys().sk);
  const Decryptor dec(keys().ctx, keys().sk);
  const Evaluator ev(keys().ctx);
  std::mt19937_64 rng(11);
  std::vector<std::int64_t> m0(n), m1(n);
  for (auto& v : m0) v = static_cast<std::int64_t>(rng() % 255) - 127;
  for (auto& v : m1) v = static_cast<std::int64_t>(rng() % 255) - 127;
  Ciphertext c0 = enc.encrypt(m0.data(), n, scale), c1 = enc.encrypt(m1.data(), n, scale);
  for (int b : {0, 1}) {
    const SelectionKey key =
        make_selection_key(ev, scaled_gadget(b), kLookupSelectDecompositionBits, keys().square);
    const Ciphertext prod = external_product(ev, c1, key);
    std::vector<std::int64_t> want(n, 0);
    if (b == 1) want = m1;
    const Decrypted d = dec.measure(prod, scale, want);
    EXPECT_GT(d.noise_budget_bits, 1.0) << "b = " << b;
    const Decrypted s = dec.measure(select(ev, key, c0, c1), scale, b == 1 ? m1 : m0);
    EXPECT_GT(s.noise_budget_bits, 1.0) << "b = " << b;
    std::printf("[selection] b=%d: external product noise 2^%.1f, select 2^%.1f (Delta/2 = 2^%.1f)\n", b,
                std::log2(std::max(1.0, d.max_abs_noise)), std::log2(std::max(1.0, s.max_abs_noise)),
                std::log2(d.max_abs_noise) + d.noise_budget_bits);
  }
  EXPECT_THROW(make_selection_key(ev, std::vector<Ciphertext>(3), kLookupSelectDecompositionBits, keys().square),
               Error);
}

}  // namespace
}  // namespace fhellm::he
