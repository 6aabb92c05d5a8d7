// Noise measurements against the bounds of docs/noise.md. Each test prints
// the measured and predicted figures (the doc's table comes from this output).
//
// Bounds use the sub-Gaussian tail of the centred binomial error (variance
// proxy sigma^2 = eta/2 = 10.5): for fixed integers c_j,
//   P(|sum_j c_j e_j| >= a) <= 2 exp(-a^2 / (2 sigma^2 sum_j c_j^2)),
// evaluated at a per-coefficient failure probability p = 2^-40.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "he/accumulator.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/keys.h"
#include "he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;

namespace {

constexpr double kSigma2 = kErrorVariance;                // eta / 2
const double kLnTail = std::log(2.0) + 40 * std::log(2.0);  // ln(2 / p), p = 2^-40

double tail_bound(double sum_c2) { return std::sqrt(2 * kSigma2 * sum_c2 * kLnTail); }

double rms(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

class NoiseTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    n = ctx->poly_degree();
    sk = SecretKey::generate(*ctx);
    enc = std::make_unique<Encryptor>(ctx, sk);
    dec = std::make_unique<Decryptor>(ctx, sk);
    eval = std::make_unique<Evaluator>(ctx);
    // Plain modulus for 8-bit x 8-bit products summed over 8192 terms: |y| <= 2^27.
    scale = Scale::from_plain_modulus(*ctx, (std::uint64_t{1} << 30) + 1);
  }
  const char* name() const { return parameter_set(GetParam()).name.data(); }
  ContextPtr ctx;
  std::size_t n = 0;
  SecretKey sk;
  std::unique_ptr<Encryptor> enc;
  std::unique_ptr<Decryptor> dec;
  std::unique_ptr<Evaluator> eval;
  Scale scale;
};

}  // namespace

TEST_P(NoiseTest, FreshEncryption) {
  std::vector<double> all;
  for (int rep = 0; rep < 4; ++rep) {
    const Decrypted d = dec->decrypt(enc->encrypt_zero(), scale);
    EXPECT_LE(d.max_abs_noise, 21.0);  // deterministic: |e| <= eta
    all.insert(all.end(), d.noise.begin(), d.noise.end());
  }
  const double measured = rms(all);
  std::printf("[noise] %s fresh: rms %.2f (predicted %.2f), max <= 21\n", name(), measured, std::sqrt(kSigma2));
  EXPECT_NEAR(measured * measured, kSigma2, 0.15 * kSigma2);
}

TEST_P(NoiseTest, ProductWithInt8WeightsSummedOver8192Terms) {
  // y = sum_t ct_t * w_t over 8192 / N ciphertexts: k = 8192 input values.
  const std::size_t k = 8192, terms = k / n;
  std::mt19937_64 rng(21);
  CiphertextAccumulator acc(ctx);
  std::vector<std::int64_t> expect(n, 0);
  double sum_w2_max = 0;
  std::vector<double> sum_w2(n, 0);  // per output coefficient: sum of squares of weights touching it
  for (std::size_t t = 0; t < terms; ++t) {
    std::vector<std::int64_t> x(n), w(n);
    for (auto& v : x) v = static_cast<std::int64_t>(rng() % 256) - 128;  // extreme-ish 8-bit activations
    for (auto& v : w) v = (rng() & 1) ? -128 : 127;                          // extreme 8-bit weights
    acc.multiply_add(enc->encrypt(x.data(), n, scale), PlaintextNtt::encode(*ctx, w.data(), n));
    const auto p = test_util::negacyclic_product(x, w);
    for (std::size_t i = 0; i < n; ++i) expect[i] += p[i];
    double w2 = 0;
    for (auto v : w) w2 += double(v) * double(v);
    for (auto& s : sum_w2) s += w2;  // every output coefficient sees all N weights
  }
  for (double s : sum_w2) sum_w2_max = std::max(sum_w2_max, s);
  EXPECT_EQ(dec->decrypt(acc.result(), scale).message, expect);
  const Decrypted d = dec->measure(acc.result(), scale, expect);
  const double predicted_rms = std::sqrt(kSigma2 * sum_w2_max);
  const double bound = tail_bound(sum_w2_max);
  const double half_delta = static_cast<double>(scale.delta().to_long_double()) / 2;
  std::printf("[noise] %s product k=%zu: rms %.0f (predicted %.0f), max %.0f, bound(2^-40) %.0f = 2^%.1f, "
              "Delta/2 = 2^%.1f, worst case 21*128*k = 2^%.1f\n",
              name(), k, rms(d.noise), predicted_rms, d.max_abs_noise, bound, std::log2(bound),
              std::log2(half_delta), std::log2(21.0 * 128 * k));
  EXPECT_LT(d.max_abs_noise, bound);
  EXPECT_NEAR(rms(d.noise) / predicted_rms, 1.0, 0.15);
  EXPECT_LT(bound, half_delta) << "the bound must make decryption exact";
}

TEST_P(NoiseTest, KeySwitchAsAFunctionOfTheDigitBase) {
  std::mt19937_64 rng(22);
  const auto m = test_util::random_values(n, 1000, rng);
  const Ciphertext ct = enc->encrypt(m.data(), n, scale);
  const double fresh = 21;
  for (int w : {6, 9, 14, 20}) {
    const GaloisKeys keys = make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3}, w);
    Ciphertext c = ct;
    eval->apply_galois_inplace(c, 3, keys);
    const std::vector<std::int64_t> rotated = [&] {
      std::vector<std::int64_t> out(n, 0);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t e = (i * 3) % (2 * n);
        if (e < n) out[e] = m[i];
        else out[e - n] = -m[i];
      }
      return out;
    }();
    const Decrypted d = dec->measure(c, scale, rotated);
    // Digits d_ij: |d| <= 2^(w-1) except the top digit of each prime, which is
    // bounded by q_i / 2^(w (L_i - 1) + 1) + 1; sum over N coefficients per digit.
    double sum_c2 = 0;
    const auto levels = gadget_digits(*ctx, w);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const double q = static_cast<double>(ctx->modulus(i).value());
      for (std::size_t t = 0; t < levels[i]; ++t) {
        const double top = t + 1 == levels[i] ? q / std::ldexp(1.0, int(w * t) + 1) + 1 : std::ldexp(1.0, w - 1);
        const double c = std::min(top, std::ldexp(1.0, w - 1) + 1);
        sum_c2 += c * c * double(n);
      }
    }
    // Uniform digits have variance ~B^2/12: the typical size is far below the bound.
    const double bound = tail_bound(sum_c2) + fresh;
    std::printf("[noise] %s key switch w=%d (%zu digits): rms %.0f, max %.0f = 2^%.1f, bound 2^%.1f\n", name(), w,
                [&] { std::size_t s = 0; for (auto l : levels) s += l; return s; }(), rms(d.noise), d.max_abs_noise,
                std::log2(d.max_abs_noise), std::log2(bound));
    EXPECT_LT(d.max_abs_noise, bound) << "w=" << w;
    if (d.noise_budget_bits > 0) {
      EXPECT_EQ(dec->decrypt(c, scale).message, rotated) << "w=" << w;
    }
  }
}

TEST_P(NoiseTest, ModulusSwitchMaskRoundingScalesWithTheSecret) {
  // Torus error after switching: e/Q + r0/q_body + (r1 * s)/q_mask with
  // |r0|, |r1_j| <= 1/2. Mask term bound: sqrt(2 (1/4) h ln(2/p)) / q_mask,
  // h = ||s||_1 (rounding errors modelled as independent, uniform); worst case h/2.
  std::size_t h = 0;
  for (auto c : sk.coefficients()) h += c != 0;
  std::mt19937_64 rng(23);
  const Scale small = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 16);
  const auto m = test_util::random_values(n, small.max_message(), rng);
  const Ciphertext ct = enc->encrypt(m.data(), n, small);
  const long double q_ld = ctx->coeff_basis().product().to_long_double();
  const double mask_bound_units = std::sqrt(2 * 0.25 * double(h) * kLnTail);  // in units of 1/q_mask
  for (int mask_bits : {22, 26, 34}) {
    for (int body_bits : {18, 24}) {
      const std::uint64_t qm = std::uint64_t{1} << mask_bits, qb = std::uint64_t{1} << body_bits;
      const SwitchedCiphertext sw = eval->switch_modulus(ct, qb, qm);
      const Decrypted d = dec->measure(sw, small, m);
      // Convert the measured error (phase units) to the torus: / Q.
      const double measured_torus = static_cast<double>(d.max_abs_noise / q_ld);
      const double bound_torus = 21.0 / double(q_ld) + 0.5 / double(qb) + mask_bound_units / double(qm);
      const double limit = 1.0 / (2.0 * double(small.ratio()));
      std::printf("[noise] %s switch q_mask=2^%d q_body=2^%d: max torus error 2^%.2f, bound 2^%.2f, limit 2^%.2f "
                  "(h=%zu)\n",
                  name(), mask_bits, body_bits, std::log2(measured_torus), std::log2(bound_torus), std::log2(limit), h);
      EXPECT_LT(measured_torus, bound_torus);
      if (bound_torus < limit) {
        EXPECT_EQ(dec->decrypt(sw, small).message, m) << "bound below the limit must mean exact decryption";
        EXPECT_GT(d.noise_budget_bits, 0);
      }
    }
  }
  // Mask rounding really is multiplied by s: with the mask kept at full
  // precision (2^60) the error is the body's alone, |.| <= 1/(2 q_body) + e/Q.
  const SwitchedCiphertext body_only = eval->switch_modulus(ct, std::uint64_t{1} << 20, std::uint64_t{1} << 60);
  const double e_body = static_cast<double>(dec->measure(body_only, small, m).max_abs_noise / q_ld);
  EXPECT_LE(e_body, 0.5 / double(1 << 20) + 22.0 / double(q_ld) + 1e-12);
  const SwitchedCiphertext mask_only = eval->switch_modulus(ct, std::uint64_t{1} << 60, std::uint64_t{1} << 20);
  const double e_mask = static_cast<double>(dec->measure(mask_only, small, m).max_abs_noise / q_ld);
  std::printf("[noise] %s body-only 2^20 error 2^%.2f vs mask-only 2^20 error 2^%.2f (ratio %.1f)\n",
              name(), std::log2(e_body), std::log2(e_mask), e_mask / e_body);
  EXPECT_GT(e_mask, 4 * e_body);
}

INSTANTIATE_TEST_SUITE_P(Sets, NoiseTest,
                         ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216),
                         test_util::param_name);
