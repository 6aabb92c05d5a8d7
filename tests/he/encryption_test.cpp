#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fhellm/error.h"
#include "he/ciphertext.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/keys.h"
#include "he/linear_detail.h"
#include "he/plaintext.h"
#include "he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;

namespace {

class EncryptionTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    sk = SecretKey::generate(*ctx);
  }
  ContextPtr ctx;
  SecretKey sk;
};

}  // namespace

TEST(Params, RegistryIsValidAndWithinTheHeStandard) {
  for (ParamId id : all_parameter_ids()) {
    const ParameterSet& p = parameter_set(id);
    const auto ctx = Context::get(id);
    EXPECT_EQ(ctx->param_id(), id);
    EXPECT_LE(ctx->coeff_basis().log2_product(), he_standard_max_log_qp(p.poly_degree)) << p.name;
  }
  EXPECT_THROW(parameter_set(static_cast<ParamId>(99)), Error);
  try {
    param_id_from_u16(0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unknown_parameter_id);
  }
}

TEST(Params, ContextRejectsInsecureOrBrokenSets) {
  ParameterSet p = parameter_set(ParamId::n2048_q54);
  p.coeff_modulus = {18014398509309953ULL};  // 54-bit prime = 1 mod 8192 (so mod 4096): ok
  EXPECT_NO_THROW(Context{p});
  p.coeff_modulus = {18014398509309953ULL, 134176769ULL};  // 81 bits > 54
  try {
    Context c(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_parameters);
  }
  p.coeff_modulus = {134176771ULL};  // not prime
  EXPECT_THROW(Context{p}, Error);
  p.coeff_modulus = {134176769ULL, 134176769ULL};  // repeated
  EXPECT_THROW(Context{p}, Error);
  p = parameter_set(ParamId::n2048_q54);
  p.poly_degree = 3000;
  EXPECT_THROW(Context{p}, Error);
}

TEST_P(EncryptionTest, RoundTripAtTheExtremesOfThePlaintextRange) {
  const std::size_t n = ctx->poly_degree();
  for (std::uint64_t t : {std::uint64_t{3}, std::uint64_t{256}, std::uint64_t{1} << 31, (std::uint64_t{1} << 33) + 1}) {
    const Scale scale = Scale::from_plain_modulus(*ctx, t);
    const std::int64_t top = scale.max_message();
    ASSERT_GE(top, static_cast<std::int64_t>((t - 1) / 2) - 1);
    ASSERT_LE(static_cast<long double>(top), scale.ratio() / 2);
    std::vector<std::int64_t> m(n);
    for (std::size_t i = 0; i < n; ++i) {
      switch (i % 5) {
        case 0: m[i] = top; break;
        case 1: m[i] = -top; break;
        case 2: m[i] = 0; break;
        case 3: m[i] = (i & 8) ? 1 : -1; break;
        default: m[i] = static_cast<std::int64_t>(i) % (top + 1); break;
      }
    }
    Encryptor enc(ctx, sk);
    Decryptor dec(ctx, sk);
    const Ciphertext ct = enc.encrypt(m.data(), n, scale);
    const Decrypted d = dec.decrypt(ct, scale);
    EXPECT_EQ(d.message, m) << "t=" << t;
    EXPECT_GT(d.noise_budget_bits, 0) << "t=" << t;
    EXPECT_LE(d.max_abs_noise, 21 * 1.0) << "fresh noise is one centred-binomial sample";
    // Out of range messages are refused, not wrapped.
    std::vector<std::int64_t> bad = {top + 1};
    EXPECT_THROW(enc.encrypt(bad.data(), 1, scale), Error);
  }
}

TEST_P(EncryptionTest, SeededFormExpandsToTheSameCiphertext) {
  const Scale scale = Scale::from_plain_modulus(*ctx, 1 << 20);
  Encryptor enc(ctx, sk);
  Decryptor dec(ctx, sk);
  std::mt19937_64 rng(1);
  const auto m = test_util::random_values(100, scale.max_message(), rng);
  const SeededCiphertext seeded = enc.encrypt_seeded(m.data(), m.size(), scale);
  const Ciphertext full = expand(*ctx, seeded);
  EXPECT_EQ(full.c0, seeded.c0);
  EXPECT_EQ(full.c1, expand_seed(*ctx, seeded.seed));
  auto d = dec.decrypt(full, scale).message;
  d.resize(m.size());
  EXPECT_EQ(d, m);
  // Two encryptions of the same message use different seeds and noise.
  const SeededCiphertext again = enc.encrypt_seeded(m.data(), m.size(), scale);
  EXPECT_NE(again.seed, seeded.seed);
  EXPECT_FALSE(again.c0 == seeded.c0);
}

TEST_P(EncryptionTest, RoundedBodyRebuildsToAnEncryptionOfThePlaintext) {
  // The upload path: seed + body rounded to 2^u levels; the server rebuilds
  // round(v Q / 2^u) and expands the mask. The phase must be the plaintext
  // plus the fresh error and at most half a rounding step.
  const Scale scale = Scale::from_plain_modulus(*ctx, 1 << 8);
  Encryptor enc(ctx, sk);
  Decryptor dec(ctx, sk);
  std::mt19937_64 rng(7);
  const std::size_t n = ctx->poly_degree();
  const auto m = test_util::random_values(n, scale.max_message(), rng);
  RnsPoly plain(*ctx, false);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    const math::Modulus& q = ctx->modulus(i);
    for (std::size_t j = 0; j < n; ++j) plain.residues(i)[j] = q.mul(scale.delta_residues()[i], q.from_signed(m[j]));
  }
  const double log_q = ctx->coeff_basis().log2_product();
  const int u = std::min(60, static_cast<int>(log_q) - 16);
  const SeededRoundedBody up = enc.encrypt_poly_rounded(plain, std::uint64_t{1} << u);
  ASSERT_EQ(up.body.size(), n);
  for (std::uint64_t v : up.body) ASSERT_LT(v, std::uint64_t{1} << u);
  SeededCiphertext sc;
  sc.seed = up.seed;
  sc.c0 = RnsPoly(*ctx, false);
  detail::rebuild_body(*ctx, up.body, u, sc.c0);
  to_ntt(sc.c0, *ctx);
  const Decrypted d = dec.measure(expand(*ctx, sc), scale, m);
  EXPECT_EQ(d.message, m);
  // Fresh error (|e| <= eta) + the upload's rounding (<= Q / 2^(u+1)) + the rebuild's (<= 1/2).
  const double bound = ctx->params().error_binomial_eta + std::exp2(log_q - u - 1) + 1;
  EXPECT_LE(d.max_abs_noise, bound);
  EXPECT_GT(d.max_abs_noise, ctx->params().error_binomial_eta);  // the rounding is there
  // A different seed each time; an NTT-form plaintext is refused.
  EXPECT_NE(enc.encrypt_poly_rounded(plain, std::uint64_t{1} << u).seed, up.seed);
  RnsPoly ntt = plain;
  to_ntt(ntt, *ctx);
  EXPECT_THROW(enc.encrypt_poly_rounded(ntt, std::uint64_t{1} << u), Error);
}

TEST_P(EncryptionTest, WrongKeyOrParameterSetIsRefusedOrGarbage) {
  const Scale scale = Scale::from_plain_modulus(*ctx, 1 << 16);
  Encryptor enc(ctx, sk);
  std::vector<std::int64_t> m(ctx->poly_degree(), 7);
  const Ciphertext ct = enc.encrypt(m.data(), m.size(), scale);
  // Another key decrypts to noise, not to the message.
  Decryptor other(ctx, SecretKey::generate(*ctx));
  EXPECT_NE(other.decrypt(ct, scale).message, m);
  // Objects of another set are refused with parameter_mismatch.
  const ParamId foreign = GetParam() == ParamId::n2048_q54 ? ParamId::n4096_q108 : ParamId::n2048_q54;
  const auto foreign_ctx = Context::get(foreign);
  try {
    Decryptor(foreign_ctx, sk);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch);
  }
  Decryptor dec_foreign(foreign_ctx, SecretKey::generate(*foreign_ctx));
  try {
    dec_foreign.decrypt(ct, Scale::from_plain_modulus(*foreign_ctx, 1 << 16));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch);
  }
  EXPECT_THROW(enc.encrypt(m.data(), m.size(), Scale::from_plain_modulus(*foreign_ctx, 1 << 16)), Error);
  std::vector<std::int64_t> too_long(ctx->poly_degree() + 1, 0);
  EXPECT_THROW(enc.encrypt(too_long.data(), too_long.size(), scale), Error);
}

TEST_P(EncryptionTest, SecretKeyIsTernaryAndBalanced) {
  std::size_t counts[3] = {0, 0, 0};
  for (std::int8_t c : sk.coefficients()) {
    ASSERT_TRUE(c >= -1 && c <= 1);
    ++counts[c + 1];
  }
  const double n = static_cast<double>(ctx->poly_degree());
  for (auto c : counts) EXPECT_NEAR(c / n, 1.0 / 3, 0.06);
  EXPECT_THROW(SecretKey::from_coefficients(*ctx, std::vector<std::int8_t>(ctx->poly_degree(), 2)), Error);
}

TEST(Prng, DeterministicPerSeedAndUniformEnough) {
  Seed seed{};
  seed[0] = 42;
  Prng a(seed), b(seed);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next_u64(), b.next_u64());
  Prng c(random_seed());
  std::size_t below = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t v = c.uniform_below(1000);
    ASSERT_LT(v, 1000u);
    below += v < 500;
  }
  EXPECT_NEAR(below / 20000.0, 0.5, 0.03);
  double var = 0;
  for (int i = 0; i < 20000; ++i) {
    const int e = c.centered_binomial(kErrorBinomialEta);
    ASSERT_LE(std::abs(e), kErrorBinomialEta);
    var += e * e;
  }
  EXPECT_NEAR(var / 20000, kErrorVariance, 0.5);
}

INSTANTIATE_TEST_SUITE_P(Sets, EncryptionTest,
                         ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216),
                         test_util::param_name);
