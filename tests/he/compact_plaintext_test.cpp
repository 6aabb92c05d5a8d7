// PlaintextNtt32 (32-bit NTT weight plaintexts): same values as PlaintextNtt
// on every parameter set whose primes are below 2^32, same accumulated sums
// (SIMD on and off, across the lazy-fold boundary), and clear errors for the
// sets whose primes do not fit and for mismatched operands.
#include <gtest/gtest.h>

#include "fhellm/error.h"
#include "he/accumulator.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/keys.h"
#include "he/plaintext.h"
#include "math/cpu_features.h"
#include "math/poly_arith.h"
#include "he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;
using test_util::negacyclic_product;
using test_util::random_values;

namespace {

bool primes_fit_32(const Context& ctx) {
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    if (ctx.modulus(i).value() >= (std::uint64_t{1} << 32)) return false;
  }
  return true;
}

template <typename F>
void expect_error(ErrorCode code, F&& f, const char* what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << what << ": " << e.what();
  }
}

std::vector<std::int8_t> random_int8(std::size_t n, std::mt19937_64& rng) {
  std::vector<std::int8_t> w(n);
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  return w;
}

class CompactPlaintextTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    n = ctx->poly_degree();
  }
  ContextPtr ctx;
  std::size_t n = 0;
};

}  // namespace

TEST(CompactPlaintext, TheDefaultMatrixProductSetIsSupported) {
  // The type is pointless unless the matrix-product set fits: guard against
  // a parameter change silently turning the tests below into error checks.
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  EXPECT_TRUE(PlaintextNtt32::supported(*ctx));
  EXPECT_TRUE(primes_fit_32(*ctx));
}

TEST_P(CompactPlaintextTest, SameValuesAsPlaintextNttOrAClearError) {
  std::mt19937_64 rng(31);
  const auto w64 = random_values(n, 1 << 20, rng);
  const auto w8 = random_int8(n, rng);
  EXPECT_EQ(PlaintextNtt32::supported(*ctx), primes_fit_32(*ctx));
  if (!primes_fit_32(*ctx)) {
    expect_error(ErrorCode::invalid_argument, [&] { PlaintextNtt32::encode(*ctx, w64.data(), n); }, "encode int64");
    expect_error(ErrorCode::invalid_argument, [&] { PlaintextNtt32::encode(*ctx, w8.data(), n); }, "encode int8");
    const PlaintextNtt wide = PlaintextNtt::encode(*ctx, w8.data(), n);
    expect_error(ErrorCode::invalid_argument, [&] { PlaintextNtt32::from(*ctx, wide); }, "from");
    return;
  }
  for (std::size_t count : {n, n / 3, std::size_t{1}, std::size_t{0}}) {
    const PlaintextNtt ref64 = PlaintextNtt::encode(*ctx, w64.data(), count);
    const PlaintextNtt ref8 = PlaintextNtt::encode(*ctx, w8.data(), count);
    const PlaintextNtt32 c64 = PlaintextNtt32::encode(*ctx, w64.data(), count);
    const PlaintextNtt32 c8 = PlaintextNtt32::encode(*ctx, w8.data(), count);
    ASSERT_EQ(c64.size(), ref64.poly().size());
    EXPECT_EQ(c64.param_id(), ctx->param_id());
    EXPECT_EQ(c64.poly_degree(), n);
    EXPECT_EQ(c64.moduli_count(), ctx->moduli_count());
    EXPECT_EQ(c64.bytes() * 2, ref64.poly().size() * sizeof(std::uint64_t));
    std::size_t differ = 0;
    for (std::size_t j = 0; j < c64.size(); ++j) {
      differ += c64.data()[j] != ref64.poly().data()[j];
      differ += c8.data()[j] != ref8.poly().data()[j];
    }
    EXPECT_EQ(differ, 0u) << "count " << count;
    EXPECT_EQ(c64, PlaintextNtt32::from(*ctx, ref64));
    EXPECT_EQ(c64.widen(*ctx).poly(), ref64.poly());
    EXPECT_EQ(c8.widen(*ctx).poly(), ref8.poly());
    EXPECT_TRUE(c8.widen(*ctx).poly().is_ntt_form());
  }
  // Different weights give different plaintexts (the comparison above can fail).
  auto other = w8;
  other[0] = static_cast<std::int8_t>(other[0] == 5 ? 6 : 5);
  EXPECT_FALSE(PlaintextNtt32::encode(*ctx, other.data(), n) == PlaintextNtt32::encode(*ctx, w8.data(), n));
  expect_error(ErrorCode::invalid_argument, [&] { PlaintextNtt32::encode(*ctx, w8.data(), n + 1); }, "count > N");
}

TEST_P(CompactPlaintextTest, AccumulatedSumsEqualThePlaintextNttPath) {
  if (!primes_fit_32(*ctx)) {
    // No PlaintextNtt32 exists for this set; its error is tested above.
    EXPECT_FALSE(PlaintextNtt32::supported(*ctx));
    return;
  }
  std::mt19937_64 rng(32);
  const SecretKey sk = SecretKey::generate(*ctx);
  Encryptor enc(ctx, sk);
  Decryptor dec(ctx, sk);
  const Scale scale = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30);
  const int terms = 5;
  std::vector<Ciphertext> cts;
  std::vector<PlaintextNtt> wide;
  std::vector<PlaintextNtt32> compact;
  std::vector<std::int64_t> expect(n, 0);
  for (int t = 0; t < terms; ++t) {
    const auto m = random_values(n, 255, rng);
    const auto w8 = random_int8(n, rng);
    const std::vector<std::int64_t> w(w8.begin(), w8.end());
    cts.push_back(enc.encrypt(m.data(), n, scale));
    wide.push_back(PlaintextNtt::encode(*ctx, w8.data(), n));
    compact.push_back(PlaintextNtt32::encode(*ctx, w8.data(), n));
    const auto p = negacyclic_product(m, w);
    for (std::size_t i = 0; i < n; ++i) expect[i] += p[i];
  }
  for (bool simd : {true, false}) {
    math::set_simd_enabled(simd);
    CiphertextAccumulator acc64(ctx), acc32(ctx), mixed(ctx);
    for (int t = 0; t < terms; ++t) {
      acc64.multiply_add(cts[t], wide[t]);
      acc32.multiply_add(cts[t], compact[t]);
      if (t % 2) mixed.multiply_add(cts[t], wide[t]);
      else mixed.multiply_add_unchecked(cts[t], compact[t]);
    }
    EXPECT_EQ(acc32.terms(), static_cast<std::size_t>(terms));
    const Ciphertext sum = acc32.result();
    EXPECT_EQ(sum, acc64.result()) << "simd " << simd;
    EXPECT_EQ(mixed.result(), sum) << "simd " << simd;
    const Decrypted d = dec.decrypt(sum, scale);
    EXPECT_GT(d.noise_budget_bits, 0);
    EXPECT_EQ(d.message, expect) << "simd " << simd;
  }
  math::set_simd_enabled(true);
}

TEST_P(CompactPlaintextTest, WorstCaseSumsAcrossTheLazyFoldBoundary) {
  if (!primes_fit_32(*ctx)) return;  // covered by the error test
  // Every slot q - 1 on both sides: each product is (q - 1)^2 = 1 mod q, the
  // largest 64-bit lane growth. Enough terms to cross the fold point twice.
  std::size_t fold = ~std::size_t{0};
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) fold = std::min(fold, math::max_lazy_terms_u64(ctx->modulus(i)));
  ASSERT_GT(fold, 0u);
  ASSERT_LT(fold, 5000u) << "unexpectedly large fold interval; the test would be slow";
  const std::size_t terms = 2 * fold + 3;
  const std::int64_t minus_one = -1;
  const PlaintextNtt wide = PlaintextNtt::encode(*ctx, &minus_one, 1);  // NTT of -1: q - 1 in every slot
  const PlaintextNtt32 compact = PlaintextNtt32::from(*ctx, wide);
  Ciphertext ct(*ctx, true);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    const std::uint64_t q = ctx->modulus(i).value();
    ASSERT_EQ(compact.residues(i)[0], q - 1);
    ASSERT_EQ(compact.residues(i)[n - 1], q - 1);
    std::fill(ct.c0.residues(i), ct.c0.residues(i) + n, q - 1);
    std::fill(ct.c1.residues(i), ct.c1.residues(i) + n, q - 1);
  }
  Ciphertext expect(*ctx, true);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    const std::uint64_t r = terms % ctx->modulus(i).value();
    std::fill(expect.c0.residues(i), expect.c0.residues(i) + n, r);
    std::fill(expect.c1.residues(i), expect.c1.residues(i) + n, r);
  }
  for (bool simd : {true, false}) {
    math::set_simd_enabled(simd);
    CiphertextAccumulator acc32(ctx), acc64(ctx);
    for (std::size_t t = 0; t < terms; ++t) {
      acc32.multiply_add_unchecked(ct, compact);
      acc64.multiply_add_unchecked(ct, wide);
    }
    EXPECT_EQ(acc32.result(), expect) << "simd " << simd;
    EXPECT_EQ(acc64.result(), expect) << "simd " << simd;
    acc32.reset();
    EXPECT_EQ(acc32.result(), Ciphertext(*ctx, true));
  }
  math::set_simd_enabled(true);
}

TEST_P(CompactPlaintextTest, MismatchedOperandsAreRefused) {
  // A supported context for the compact side, and this test's context as "other".
  const ContextPtr small = Context::get(ParamId::n2048_q54);
  const std::size_t ns = small->poly_degree();
  std::mt19937_64 rng(33);
  const auto w8 = random_int8(ns, rng);
  const PlaintextNtt32 pt = PlaintextNtt32::encode(*small, w8.data(), ns);
  const SecretKey sk = SecretKey::generate(*small);
  Encryptor enc(small, sk);
  const Ciphertext ct = enc.encrypt_zero();
  CiphertextAccumulator acc(small);

  expect_error(ErrorCode::parameter_mismatch, [&] { acc.multiply_add(ct, PlaintextNtt32()); }, "empty plaintext");
  Ciphertext coeff = ct;
  Evaluator(small).transform_from_ntt_inplace(coeff);
  expect_error(ErrorCode::invalid_argument, [&] { acc.multiply_add(coeff, pt); }, "coefficient-form ciphertext");
  expect_error(ErrorCode::parameter_mismatch, [&] { PlaintextNtt32::from(*small, PlaintextNtt()); },
               "empty PlaintextNtt");
  if (ctx->param_id() != small->param_id()) {
    const PlaintextNtt foreign = PlaintextNtt::encode(*ctx, w8.data(), std::min(ns, n));
    expect_error(ErrorCode::parameter_mismatch, [&] { PlaintextNtt32::from(*small, foreign); }, "foreign plaintext");
    CiphertextAccumulator other(ctx);
    expect_error(ErrorCode::parameter_mismatch, [&] { other.multiply_add(Ciphertext(*ctx, true), pt); },
                 "plaintext of another set");
    expect_error(ErrorCode::parameter_mismatch, [&] { acc.multiply_add(Ciphertext(*ctx, true), pt); },
                 "ciphertext of another set");
    expect_error(ErrorCode::parameter_mismatch, [&] { pt.widen(*ctx); }, "widen to another set");
  }
  // Nothing refused above reached the sum.
  EXPECT_EQ(acc.terms(), 0u);
  acc.multiply_add(ct, pt);
  EXPECT_EQ(acc.terms(), 1u);
}

INSTANTIATE_TEST_SUITE_P(AllSets, CompactPlaintextTest, ::testing::ValuesIn(all_parameter_ids()),
                         test_util::param_name);
