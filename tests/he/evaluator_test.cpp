#include <gtest/gtest.h>

#include "fhellm/error.h"
#include "he/accumulator.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/hoisted_galois.h"
#include "he/keys.h"
#include "he_test_util.h"
#include "math/blocked_product.h"

using namespace fhellm;
using namespace fhellm::he;
using test_util::galois_of;
using test_util::negacyclic_product;
using test_util::random_values;

namespace {

class EvaluatorTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    n = ctx->poly_degree();
    sk = SecretKey::generate(*ctx);
    enc = std::make_unique<Encryptor>(ctx, sk);
    dec = std::make_unique<Decryptor>(ctx, sk);
    eval = std::make_unique<Evaluator>(ctx);
    scale = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30);
  }
  std::vector<std::int64_t> decrypt(const Ciphertext& ct, double* budget = nullptr) {
    const Decrypted d = dec->decrypt(ct, scale);
    if (budget) *budget = d.noise_budget_bits;
    EXPECT_GT(d.noise_budget_bits, 0);
    return d.message;
  }
  ContextPtr ctx;
  std::size_t n = 0;
  SecretKey sk;
  std::unique_ptr<Encryptor> enc;
  std::unique_ptr<Decryptor> dec;
  std::unique_ptr<Evaluator> eval;
  Scale scale;
};

}  // namespace

TEST_P(EvaluatorTest, PlaintextProductEqualsIntegerPolynomialProduct) {
  std::mt19937_64 rng(11);
  // Random case and the extreme case: |m| = 1023, weights all -128.
  for (int pattern = 0; pattern < 2; ++pattern) {
    std::vector<std::int64_t> m = random_values(n, 1023, rng);
    std::vector<std::int8_t> w8(n);
    for (auto& w : w8) w = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
    if (pattern == 1) {
      for (std::size_t i = 0; i < n; ++i) m[i] = (i % 2) ? 1023 : -1023;
      std::fill(w8.begin(), w8.end(), static_cast<std::int8_t>(-128));
    }
    const std::vector<std::int64_t> w(w8.begin(), w8.end());
    const PlaintextNtt pt = PlaintextNtt::encode(*ctx, w8.data(), n);
    EXPECT_EQ(pt.poly(), PlaintextNtt::encode(*ctx, w.data(), n).poly());
    Ciphertext ct = enc->encrypt(m.data(), n, scale);
    Ciphertext prod;
    eval->multiply_plain(ct, pt, prod);
    EXPECT_EQ(decrypt(prod), negacyclic_product(m, w)) << "pattern " << pattern;
  }
}

TEST_P(EvaluatorTest, AccumulatorMatchesReducedSumAndIntegerSum) {
  std::mt19937_64 rng(12);
  const int terms = 6;
  CiphertextAccumulator acc(ctx);
  Ciphertext reference(*ctx, true);
  std::vector<std::int64_t> expect(n, 0);
  for (int t = 0; t < terms; ++t) {
    const auto m = random_values(n, 255, rng);
    const auto w = random_values(n, 127, rng);
    const PlaintextNtt pt = PlaintextNtt::encode(*ctx, w.data(), n);
    const Ciphertext ct = enc->encrypt(m.data(), n, scale);
    acc.multiply_add(ct, pt);
    eval->multiply_plain_add(ct, pt, reference);
    const auto p = negacyclic_product(m, w);
    for (std::size_t i = 0; i < n; ++i) expect[i] += p[i];
  }
  EXPECT_EQ(acc.terms(), static_cast<std::size_t>(terms));
  const Ciphertext sum = acc.result();
  EXPECT_EQ(sum, reference);
  EXPECT_EQ(decrypt(sum), expect);
  acc.reset();
  EXPECT_EQ(acc.result(), Ciphertext(*ctx, true));
  // Coefficient-form operands are refused.
  Ciphertext coeff = enc->encrypt_zero();
  eval->transform_from_ntt_inplace(coeff);
  EXPECT_THROW(acc.multiply_add(coeff, PlaintextNtt::encode(*ctx, expect.data(), 1)), Error);
}

TEST_P(EvaluatorTest, AddSubNegateAndMonomials) {
  std::mt19937_64 rng(13);
  const auto a = random_values(n, 100000, rng), b = random_values(n, 100000, rng);
  const Ciphertext ca = enc->encrypt(a.data(), n, scale), cb = enc->encrypt(b.data(), n, scale);
  Ciphertext sum, diff;
  eval->add(ca, cb, sum);
  eval->sub(ca, cb, diff);
  std::vector<std::int64_t> es(n), ed(n), en(n);
  for (std::size_t i = 0; i < n; ++i) {
    es[i] = a[i] + b[i];
    ed[i] = a[i] - b[i];
    en[i] = -a[i];
  }
  EXPECT_EQ(decrypt(sum), es);
  EXPECT_EQ(decrypt(diff), ed);
  Ciphertext neg = ca;
  eval->negate_inplace(neg);
  EXPECT_EQ(decrypt(neg), en);
  for (std::int64_t e : {std::int64_t{1}, std::int64_t{5}, static_cast<std::int64_t>(n) + 3, std::int64_t{-1},
                         static_cast<std::int64_t>(2 * n) - 1}) {
    std::vector<std::int64_t> mono(n, 0);
    const std::size_t ee = static_cast<std::size_t>(((e % static_cast<std::int64_t>(2 * n)) + 2 * n) % (2 * n));
    if (ee < n) mono[ee] = 1;
    else mono[ee - n] = -1;
    const auto expect = negacyclic_product(a, mono);
    for (bool ntt : {true, false}) {
      Ciphertext c = ca;
      if (!ntt) eval->transform_from_ntt_inplace(c);
      eval->multiply_monomial_inplace(c, e);
      EXPECT_EQ(c.is_ntt_form(), ntt);
      EXPECT_EQ(decrypt(c), expect) << "e=" << e << " ntt=" << ntt;
    }
  }
  Ciphertext coeff = ca;
  eval->transform_from_ntt_inplace(coeff);
  try {
    eval->add_inplace(coeff, cb);
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::parameter_mismatch);
  }
}

TEST_P(EvaluatorTest, AutomorphismWithKeySwitchingDecryptsToPermutedMessage) {
  std::mt19937_64 rng(14);
  const auto m = random_values(n, 1 << 20, rng);
  const std::vector<std::uint64_t> elts = {3, 5, n + 1, 2 * n - 1};
  const GaloisKeys keys = make_galois_keys(*ctx, sk, elts);
  const Ciphertext ct = enc->encrypt(m.data(), n, scale);
  for (std::uint64_t g : elts) {
    for (bool ntt : {true, false}) {
      Ciphertext c = ct;
      if (!ntt) eval->transform_from_ntt_inplace(c);
      // Out of place first: the input stays as it was, the output (a fresh
      // ciphertext, then one of another shape's buffers) holds sigma_g.
      const Ciphertext before = c;
      Ciphertext out;
      eval->apply_galois(c, g, keys, out);
      EXPECT_EQ(c.c0, before.c0);
      EXPECT_EQ(c.c1, before.c1);
      EXPECT_EQ(out.is_ntt_form(), ntt);
      EXPECT_EQ(decrypt(out), galois_of(m, g)) << "out of place, g=" << g << " ntt=" << ntt;
      eval->apply_galois(c, g, keys, out);  // into a ciphertext that already holds one
      EXPECT_EQ(decrypt(out), galois_of(m, g)) << "reused output, g=" << g << " ntt=" << ntt;
      eval->apply_galois_inplace(c, g, keys);
      EXPECT_EQ(c.is_ntt_form(), ntt);
      EXPECT_EQ(decrypt(c), galois_of(m, g)) << "g=" << g << " ntt=" << ntt;
    }
  }
  // Composition: g then g' equals g*g' mod 2N.
  Ciphertext c = ct;
  eval->apply_galois_inplace(c, 3, keys);
  eval->apply_galois_inplace(c, 5, keys);
  EXPECT_EQ(decrypt(c), galois_of(m, 15));
  try {
    eval->apply_galois_inplace(c, 7, keys);
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::missing_galois_key);
  }
  EXPECT_THROW(make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{4}), Error);
  EXPECT_THROW(make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{2 * n + 1}), Error);
}

// Hoisted automorphisms: the same messages as apply_galois_inplace for every
// composed element of the linear layer's split point, from either form, with
// keys of several widths; a key of another width or a missing element is refused.
TEST_P(EvaluatorTest, HoistedAutomorphismsDecryptToPermutedMessages) {
  std::mt19937_64 rng(15);
  const auto m = random_values(n, 1 << 20, rng);
  const auto elts = composed_galois_elements(n, 3);
  ASSERT_EQ(elts.size(), 7u);  // 3, 5, 9, 15, 27, 45, 135 (mod 2N)
  for (int w : {7, 14}) {
    const GaloisKeys keys = make_galois_keys(*ctx, sk, elts, w);
    Ciphertext ct = enc->encrypt(m.data(), n, scale);
    for (bool ntt : {true, false}) {
      if (!ntt) eval->transform_from_ntt_inplace(ct);
      const HoistedCiphertext hoisted(ctx, ct, w);
      const HoistedGaloisKeys laid_out(*ctx, keys);
      EXPECT_EQ(laid_out.has(3), hoisted.fast());  // both exist exactly where the 32-bit pipeline does
      for (std::uint64_t g : elts) {
        const Ciphertext c = hoisted.apply_galois(g, keys);
        EXPECT_TRUE(c.is_ntt_form());
        EXPECT_EQ(decrypt(c), galois_of(m, g)) << "g=" << g << " w=" << w << " ntt=" << ntt;
        if (hoisted.fast()) {
          const Ciphertext f = hoisted.apply_galois(g, laid_out);
          EXPECT_EQ(f.c0, c.c0) << "g=" << g;  // the same key switch, in another order
          EXPECT_EQ(f.c1, c.c1) << "g=" << g;
          // The unpermuted sums (the linear layer's blocked input side):
          // slot j of the result is t[perm[j]], every prime once.
          const std::vector<std::uint32_t>& perm = ctx->automorphism_permutation(g);
          const HoistedCiphertext* one = &hoisted;
          std::size_t primes_seen = 0;
          HoistedCiphertext::apply_galois_batch_sums(
              std::span<const HoistedCiphertext* const>(&one, 1), g, laid_out,
              [&](std::size_t r, std::size_t l, const std::uint64_t* t0, const std::uint64_t* t1) {
                EXPECT_EQ(r, 0u);
                EXPECT_EQ(l, primes_seen++);
                for (std::size_t j = 0; j < n; ++j) {
                  ASSERT_EQ(t0[perm[j]], c.c0.residues(l)[j]) << "g=" << g << " l=" << l << " j=" << j;
                  ASSERT_EQ(t1[perm[j]], c.c1.residues(l)[j]) << "g=" << g << " l=" << l << " j=" << j;
                }
              });
          EXPECT_EQ(primes_seen, ctx->moduli_count());
        }
      }
    }
  }
  // Several elements in one pass over several rows, straight into the
  // linear layer's blocked layout: each (element, row) block holds that
  // row's own automorphism, every word written once.
  {
    const GaloisKeys keys = make_galois_keys(*ctx, sk, elts, 7);
    const HoistedGaloisKeys laid_out(*ctx, keys);
    std::vector<HoistedCiphertext> rows;
    for (int r = 0; r < 3; ++r) rows.emplace_back(ctx, enc->encrypt(random_values(n, 1 << 20, rng).data(), n, scale), 7);
    if (rows[0].fast()) {
      std::vector<const HoistedCiphertext*> ptrs;
      for (const auto& h : rows) ptrs.push_back(&h);
      const std::vector<std::uint64_t> some = {elts[1], elts[4], elts[6]};
      const std::size_t k = ctx->moduli_count(), blocks = n / math::kSlotBlock, terms = some.size() + 1;
      const std::size_t stride = terms * 2 * math::kSlotBlock;  // term t of block b: c0 at b stride + 2 t 16
      constexpr std::uint32_t kUnwritten = 0xA5A5A5A5u;
      std::vector<std::vector<std::uint32_t>> out(rows.size(), std::vector<std::uint32_t>(k * blocks * stride, kUnwritten));
      HoistedCiphertext::apply_galois_batch_blocked(
          ptrs, some, laid_out,
          [&](std::size_t i, std::size_t r, std::size_t l) {
            return out[r].data() + l * blocks * stride + (i + 1) * 2 * math::kSlotBlock;
          },
          math::kSlotBlock, stride);
      for (std::size_t i = 0; i < some.size(); ++i)
        for (std::size_t r = 0; r < rows.size(); ++r) {
          const Ciphertext c = rows[r].apply_galois(some[i], laid_out);
          for (std::size_t l = 0; l < k; ++l)
            for (std::size_t j = 0; j < n; ++j) {
              const std::size_t at = l * blocks * stride + j / math::kSlotBlock * stride + (i + 1) * 2 * math::kSlotBlock +
                                     math::blocked_slot_word(j % math::kSlotBlock);
              ASSERT_EQ(out[r][at], c.c0.residues(l)[j]) << "element " << i << " row " << r << " l=" << l << " j=" << j;
              ASSERT_EQ(out[r][at + math::kSlotBlock], c.c1.residues(l)[j]) << "element " << i << " row " << r;
            }
        }
      // Term 0 was not an output: untouched.
      for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t l = 0; l < k; ++l)
          for (std::size_t b = 0; b < blocks; ++b)
            for (std::size_t w = 0; w < 2 * math::kSlotBlock; ++w)
              ASSERT_EQ(out[r][l * blocks * stride + b * stride + w], kUnwritten);
    }
  }
  const GaloisKeys narrow = make_galois_keys(*ctx, sk, elts, 9);
  const HoistedCiphertext hoisted(ctx, enc->encrypt(m.data(), n, scale), 7);
  if (GetParam() == ParamId::n2048_q54) {  // the 32-bit hoisted path checks the key's gadget
    try {
      (void)hoisted.apply_galois(3, narrow);
      ADD_FAILURE() << "accepted a key of another gadget width";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch);
    }
  }
  try {
    (void)hoisted.apply_galois(7, narrow);
    ADD_FAILURE() << "accepted a missing element";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_galois_key);
  }
  EXPECT_THROW((void)hoisted.apply_galois(4, narrow), Error);
}

TEST_P(EvaluatorTest, KeySwitchOfOnePolynomialForEveryDigitWidth) {
  // c * s' becomes (k0, k1) with k0 + k1 s = c s' + small, for several bases.
  std::mt19937_64 rng(15);
  std::vector<std::int8_t> other(n);
  for (auto& v : other) v = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
  RnsPoly c(*ctx, false);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    for (std::size_t j = 0; j < n; ++j) c.residues(i)[j] = rng() % ctx->modulus(i).value();
  }
  // Expected c * s' exactly in R_Q.
  RnsPoly expect = c, s_other(*ctx, false);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    for (std::size_t j = 0; j < n; ++j) s_other.residues(i)[j] = ctx->modulus(i).from_signed(other[j]);
  }
  to_ntt(expect, *ctx);
  to_ntt(s_other, *ctx);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      expect.residues(i)[j] = ctx->modulus(i).mul(expect.residues(i)[j], s_other.residues(i)[j]);
    }
  }
  from_ntt(expect, *ctx);
  for (int w : {8, 20, 61}) {
    const KeySwitchKey key = make_key_switch_key(*ctx, sk, other, w);
    Ciphertext out(*ctx, true);
    eval->key_switch(c, key, out.c0, out.c1);
    const RnsPoly got = dec->phase(out);
    // Difference = sum of digits * errors: below digits * N * 2^(w-1) * 21.
    long double worst = 0;
    std::uint64_t residues[8];
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
        residues[i] = ctx->modulus(i).sub(got.residues(i)[j], expect.residues(i)[j]);
      }
      const long double diff = ctx->coeff_basis().compose_centered(residues).to_long_double();
      worst = std::max(worst, std::fabs(diff));
    }
    std::size_t digits = 0;
    for (auto l : key.digits_per_prime) digits += l;
    const long double bound = digits * static_cast<long double>(n) * std::ldexp(1.0L, w - 1) * 21;
    EXPECT_LT(worst, bound) << "w=" << w;
    EXPECT_GT(worst, 0) << "noise is present";
    // Typical size: about sqrt(digits N) * 2^w / sqrt(12) * 3.24, far below the bound.
    EXPECT_LT(worst, bound / 8) << "w=" << w;
  }
}

// Replies' moduli are powers of two: decryption takes a 64-bit path there
// (doubles, exact near a rounding boundary). On random switched ciphertexts
// (every phase, a few within 0.001 of a boundary) it must round as the exact
// arithmetic does: the exact remainder of its message within Delta / 2, equal
// to the noise it reports.
TEST_P(EvaluatorTest, PowerOfTwoRepliesDecryptAsTheExactPath) {
  std::mt19937_64 rng(23);
  const Scale scale = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 27);
  const long double half_delta = scale.delta().to_long_double() / 2;
  for (auto [body, mask] : {std::pair<int, int>{18, 26}, {17, 25}, {20, 30}}) {
    SwitchedCiphertext sw;
    sw.param_id = ctx->param_id();
    sw.body_modulus = std::uint64_t{1} << body;
    sw.mask_modulus = std::uint64_t{1} << mask;
    for (int trial = 0; trial < 4; ++trial) {
      sw.c0.resize(n);
      sw.c1.resize(n);
      for (std::size_t j = 0; j < n; ++j) {
        sw.c0[j] = rng() % sw.body_modulus;
        sw.c1[j] = rng() % sw.mask_modulus;
      }
      const Decrypted fast = dec->decrypt(sw, scale);
      const Decrypted exact = dec->measure(sw, scale, fast.message);
      for (std::size_t j = 0; j < n; ++j) {
        ASSERT_LE(std::fabs(static_cast<long double>(exact.noise[j])), half_delta * (1 + 1e-12L))
            << "j=" << j << " body=" << body << " mask=" << mask;
        ASSERT_NEAR(fast.noise[j], exact.noise[j], 1e-6 * half_delta) << "j=" << j;
      }
    }
  }
}

// Switching rounds each coefficient to round(x t / Q) exactly (x the CRT
// value of its residues): checked against a 128-bit division here, for
// random x and the values next to rounding boundaries, at the replies' and
// uploads' power-of-two targets and an odd one.
TEST_P(EvaluatorTest, ModulusSwitchingKeepsTheMessage) {
  std::mt19937_64 rng(16);
  const Scale small = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 16);
  auto m = random_values(n, small.max_message(), rng);
  m[0] = small.max_message();
  m[1] = -small.max_message();
  const Ciphertext ct = enc->encrypt(m.data(), n, small);
  for (auto [body, mask] : {std::pair<std::uint64_t, std::uint64_t>{std::uint64_t{1} << 20, std::uint64_t{1} << 32},
                            {(std::uint64_t{1} << 24) + 3, (std::uint64_t{1} << 40) - 87},
                            {std::uint64_t{1} << 60, std::uint64_t{1} << 60}}) {
    const SwitchedCiphertext sw = eval->switch_modulus(ct, body, mask);
    EXPECT_EQ(sw.c0.size(), n);
    for (std::size_t j = 0; j < n; ++j) {
      ASSERT_LT(sw.c0[j], body);
      ASSERT_LT(sw.c1[j], mask);
    }
    const Decrypted d = dec->decrypt(sw, small);
    EXPECT_EQ(d.message, m) << "body=" << body << " mask=" << mask;
    EXPECT_GT(d.noise_budget_bits, 0);
  }
  // A coefficient-form input gives the same result.
  Ciphertext coeff = ct;
  eval->transform_from_ntt_inplace(coeff);
  const SwitchedCiphertext a = eval->switch_modulus(ct, 1 << 20, 1u << 31);
  const SwitchedCiphertext b = eval->switch_modulus(coeff, 1 << 20, 1u << 31);
  EXPECT_EQ(a.c0, b.c0);
  EXPECT_EQ(a.c1, b.c1);
  EXPECT_THROW(eval->switch_modulus(ct, 1, 1 << 20), Error);
  EXPECT_THROW(eval->switch_modulus(ct, 1 << 20, std::uint64_t{1} << 61), Error);
}

TEST_P(EvaluatorTest, ForeignObjectsAreRefused) {
  const ParamId foreign = GetParam() == ParamId::n2048_q54 ? ParamId::n4096_q108 : ParamId::n2048_q54;
  const auto fctx = Context::get(foreign);
  const SecretKey fsk = SecretKey::generate(*fctx);
  const Ciphertext fct = Encryptor(fctx, fsk).encrypt_zero();
  Ciphertext ct = enc->encrypt_zero();
  for (auto op : {0, 1, 2}) {
    try {
      if (op == 0) eval->add_inplace(ct, fct);
      if (op == 1) eval->multiply_plain_inplace(ct, PlaintextNtt::encode(*fctx, std::vector<std::int64_t>{1}.data(), 1));
      if (op == 2) eval->apply_galois_inplace(ct, 3, make_galois_keys(*fctx, fsk, std::vector<std::uint64_t>{3}));
      FAIL() << "op " << op;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch) << "op " << op;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sets, EvaluatorTest,
                         ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216),
                         test_util::param_name);

TEST(ModulusSwitch, FastPathAgreesWithExactRounding) {
  // Multi-prime sets take a long-double path for targets <= 2^48: compare
  // with exact rounding done here with WideInt on random coefficients.
  const auto ctx = Context::get(ParamId::n8192_q216);
  Evaluator eval(ctx);
  std::mt19937_64 rng(31);
  Ciphertext ct(*ctx, false);
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) {
    for (std::size_t j = 0; j < ctx->poly_degree(); ++j) {
      ct.c0.residues(i)[j] = rng() % ctx->modulus(i).value();
      ct.c1.residues(i)[j] = rng() % ctx->modulus(i).value();
    }
  }
  ct.c0.residues(0)[0] = 0;  // x = 0 and x = Q - 1 edge values in coefficient 0
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) ct.c0.residues(i)[0] = 0;
  for (std::size_t i = 0; i < ctx->moduli_count(); ++i) ct.c1.residues(i)[0] = ctx->modulus(i).value() - 1;
  const math::RnsBasis& basis = ctx->coeff_basis();
  for (std::uint64_t target : {std::uint64_t{3}, std::uint64_t{1} << 20, (std::uint64_t{1} << 48) - 59}) {
    const SwitchedCiphertext sw = eval.switch_modulus(ct, target, target);
    std::uint64_t residues[8];
    for (std::size_t j = 0; j < ctx->poly_degree(); j += 7) {
      for (int which = 0; which < 2; ++which) {
        const RnsPoly& p = which == 0 ? ct.c0 : ct.c1;
        for (std::size_t i = 0; i < ctx->moduli_count(); ++i) residues[i] = p.residues(i)[j];
        // round(x t / Q) by bisection-free exact check: r = floor((2 x t + Q) / (2Q)).
        const math::WideInt num = basis.compose(residues).times(static_cast<std::int64_t>(target)).times(2) + basis.product();
        const math::WideInt den = basis.product().times(2);
        // Exact floor by long division estimate and correction.
        std::int64_t r = static_cast<std::int64_t>(num.to_long_double() / den.to_long_double());
        math::WideInt rem = num - den.times(r);
        while (rem.is_negative()) { --r; rem += den; }
        while (!(rem < den)) { ++r; rem -= den; }
        const std::uint64_t expect = static_cast<std::uint64_t>(r) % target;
        ASSERT_EQ((which == 0 ? sw.c0 : sw.c1)[j], expect) << "target " << target << " j " << j;
      }
    }
  }
}

TEST(ModulusSwitching, RoundsExactly) {
  const auto ctx = Context::get(ParamId::n2048_q54);  // Q < 2^63: the 64-bit path
  const Evaluator ev(ctx);
  const std::size_t n = ctx->poly_degree();
  ASSERT_EQ(ctx->moduli_count(), 2u);
  const std::uint64_t q0 = ctx->modulus(0).value(), q1 = ctx->modulus(1).value();
  const unsigned __int128 big_q = static_cast<unsigned __int128>(q0) * q1;
  ASSERT_LT(big_q, static_cast<unsigned __int128>(1) << 63);
  const std::uint64_t q = static_cast<std::uint64_t>(big_q);
  std::mt19937_64 rng(29);
  for (std::uint64_t t : {std::uint64_t{1} << 17, std::uint64_t{1} << 26, std::uint64_t{1} << 35,
                          (std::uint64_t{1} << 40), (std::uint64_t{1} << 24) + 3}) {
    Ciphertext ct(*ctx, false);
    std::vector<std::uint64_t> xs(n);
    for (std::size_t j = 0; j < n; ++j) {
      std::uint64_t x = rng() % q;
      if (j % 4 == 1) {  // x t / Q just below or above k + 1/2
        const std::uint64_t k = rng() % t;
        const unsigned __int128 edge = (static_cast<unsigned __int128>(2 * k + 1) * q) / (2 * t);
        x = static_cast<std::uint64_t>(edge) + (j % 8 == 1 ? 0 : 1);
        if (x >= q) x = q - 1;
      }
      xs[j] = x;
      ct.c0.residues(0)[j] = x % q0;
      ct.c0.residues(1)[j] = x % q1;
    }
    const SwitchedCiphertext sw = ev.switch_modulus(ct, t, 2);
    for (std::size_t j = 0; j < n; ++j) {
      std::uint64_t want = static_cast<std::uint64_t>((static_cast<unsigned __int128>(xs[j]) * t + q / 2) / q);
      if (want == t) want = 0;
      ASSERT_EQ(sw.c0[j], want) << "t=" << t << " x=" << xs[j];
    }
  }
}
