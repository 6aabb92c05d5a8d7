// The fast key switch / apply_galois_inplace (fused digit lifting, paired
// accumulates, vectorized reductions, scratch reuse) against a plain scalar
// re-statement of the algorithm written here: bit-identical outputs on random
// inputs for every parameter set, several digit widths, both forms, with the
// SIMD kernels on and off.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fhellm/error.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/keys.h"
#include "math/cpu_features.h"
#include "math/ntt.h"
#include "he/he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;

namespace {

struct SimdGuard {
  explicit SimdGuard(bool on) { math::set_simd_enabled(on); }
  ~SimdGuard() { math::set_simd_enabled(true); }
};

RnsPoly random_poly(const Context& ctx, bool ntt, std::mt19937_64& rng) {
  RnsPoly p(ctx, ntt);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const std::uint64_t q = ctx.modulus(i).value();
    for (std::size_t j = 0; j < ctx.poly_degree(); ++j) {
      // Include the extremes of the centred range.
      const std::uint64_t pick = rng() % 64;
      p.residues(i)[j] = pick == 0 ? 0 : pick == 1 ? q - 1 : pick == 2 ? q / 2 : pick == 3 ? q / 2 + 1 : rng() % q;
    }
  }
  return p;
}

// The key switch as the scalar loop it was: balanced digits by repeated
// division, reference NTTs, exact modular products and sums.
void reference_key_switch(const Context& ctx, const RnsPoly& c, const KeySwitchKey& key, RnsPoly& out0,
                          RnsPoly& out1) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const int w = key.decomposition_bits;
  const std::int64_t base = std::int64_t{1} << w, half = base / 2;
  out0 = RnsPoly(ctx, true);
  out1 = RnsPoly(ctx, true);
  std::vector<std::int64_t> digits;
  std::vector<std::uint64_t> r(n);
  std::size_t d = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t levels = key.digits_per_prime[i];
    digits.assign(levels * n, 0);
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t x = ctx.modulus(i).to_centered(c.residues(i)[j]);
      for (std::size_t t = 0; t + 1 < levels; ++t) {
        std::int64_t digit = x & (base - 1);
        if (digit >= half) digit -= base;
        digits[t * n + j] = digit;
        x = (x - digit) >> w;
      }
      digits[(levels - 1) * n + j] = x;
    }
    for (std::size_t t = 0; t < levels; ++t, ++d) {
      for (std::size_t l = 0; l < k; ++l) {
        const math::Modulus& q = ctx.modulus(l);
        for (std::size_t j = 0; j < n; ++j) r[j] = q.from_signed(digits[t * n + j]);
        math::ntt_forward_reference(r.data(), ctx.ntt_tables(l));
        for (std::size_t j = 0; j < n; ++j) {
          out0.residues(l)[j] = q.add(out0.residues(l)[j], q.mul(r[j], key.b[d].residues(l)[j]));
          out1.residues(l)[j] = q.add(out1.residues(l)[j], q.mul(r[j], key.a[d].residues(l)[j]));
        }
      }
    }
  }
}

RnsPoly reference_automorphism(const Context& ctx, const RnsPoly& in, std::uint64_t g) {
  const std::size_t n = ctx.poly_degree();
  RnsPoly out(ctx, in.is_ntt_form());
  const auto perm = math::ntt_automorphism_permutation(n, g);
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    for (std::size_t j = 0; j < n; ++j) {
      if (in.is_ntt_form()) {
        out.residues(i)[j] = in.residues(i)[perm[j]];
      } else {
        const std::uint64_t e = (j * g) % (2 * n);
        if (e < n) out.residues(i)[e] = in.residues(i)[j];
        else out.residues(i)[e - n] = q.negate(in.residues(i)[j]);
      }
    }
  }
  return out;
}

Ciphertext reference_apply_galois(const Context& ctx, const Ciphertext& ct, std::uint64_t g, const KeySwitchKey& key) {
  Ciphertext out = ct;
  out.c0 = reference_automorphism(ctx, ct.c0, g);
  RnsPoly c1 = reference_automorphism(ctx, ct.c1, g);
  for (std::size_t i = 0; i < ctx.moduli_count() && c1.is_ntt_form(); ++i) {
    math::ntt_inverse_reference(c1.residues(i), ctx.ntt_tables(i));
  }
  c1.set_ntt_form(false);
  RnsPoly k0, k1;
  reference_key_switch(ctx, c1, key, k0, k1);
  if (!ct.is_ntt_form()) {
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
      math::ntt_inverse_reference(k0.residues(i), ctx.ntt_tables(i));
      math::ntt_inverse_reference(k1.residues(i), ctx.ntt_tables(i));
    }
    k0.set_ntt_form(false);
    k1.set_ntt_form(false);
  }
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const math::Modulus& q = ctx.modulus(i);
    for (std::size_t j = 0; j < ctx.poly_degree(); ++j) {
      out.c0.residues(i)[j] = q.add(out.c0.residues(i)[j], k0.residues(i)[j]);
    }
  }
  out.c1 = k1;
  return out;
}

class KeySwitchSpeedTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    sk = SecretKey::generate(*ctx);
  }
  ContextPtr ctx;
  SecretKey sk;
};

TEST_P(KeySwitchSpeedTest, KeySwitchIsBitIdenticalToScalarReference) {
  const Context& c = *ctx;
  std::mt19937_64 rng(31);
  std::vector<std::int8_t> other(c.poly_degree());
  for (auto& v : other) v = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
  const Evaluator eval(ctx);
  // Default width, a width that leaves a large top digit, one digit per prime.
  for (int w : {c.params().default_decomposition_bits, 5, 14, 20, 61}) {
    const KeySwitchKey key = make_key_switch_key(c, sk, other, w);
    const RnsPoly in = random_poly(c, false, rng);
    RnsPoly want0, want1;
    reference_key_switch(c, in, key, want0, want1);
    for (bool simd : {true, false}) {
      SimdGuard guard(simd);
      RnsPoly out0, out1;
      eval.key_switch(in, key, out0, out1);
      EXPECT_TRUE(out0 == want0) << "w=" << w << " simd=" << simd;
      EXPECT_TRUE(out1 == want1) << "w=" << w << " simd=" << simd;
      // Again into the same (already shaped) outputs: scratch reuse.
      eval.key_switch(in, key, out0, out1);
      EXPECT_TRUE(out0 == want0 && out1 == want1) << "w=" << w << " simd=" << simd << " (reused outputs)";
    }
  }
}

TEST_P(KeySwitchSpeedTest, ApplyGaloisIsBitIdenticalToScalarReference) {
  const Context& c = *ctx;
  const std::size_t n = c.poly_degree();
  std::mt19937_64 rng(32);
  const std::vector<std::uint64_t> elts = {3, 5, n + 1, 2 * n - 1};
  const GaloisKeys keys = make_galois_keys(c, sk, elts);
  const Evaluator eval(ctx);
  for (bool ntt : {true, false}) {
    Ciphertext ct;
    ct.c0 = random_poly(c, ntt, rng);
    ct.c1 = random_poly(c, ntt, rng);
    for (std::uint64_t g : elts) {
      const Ciphertext want = reference_apply_galois(c, ct, g, keys.get(g));
      for (bool simd : {true, false}) {
        SimdGuard guard(simd);
        Ciphertext got = ct;
        eval.apply_galois_inplace(got, g, keys);
        EXPECT_EQ(got.is_ntt_form(), ntt);
        EXPECT_TRUE(got.c0 == want.c0) << "g=" << g << " ntt=" << ntt << " simd=" << simd;
        EXPECT_TRUE(got.c1 == want.c1) << "g=" << g << " ntt=" << ntt << " simd=" << simd;
        // Chained on the same thread (scratch already holds the last call's data).
        eval.apply_galois_inplace(got, g, keys);
        const Ciphertext want2 = reference_apply_galois(c, want, g, keys.get(g));
        EXPECT_TRUE(got.c0 == want2.c0 && got.c1 == want2.c1) << "g=" << g << " ntt=" << ntt << " chained";
      }
    }
  }
}

TEST_P(KeySwitchSpeedTest, ErrorsAreUnchanged) {
  const Context& c = *ctx;
  const std::size_t n = c.poly_degree();
  const GaloisKeys keys = make_galois_keys(c, sk, std::vector<std::uint64_t>{3});
  const Evaluator eval(ctx);
  std::mt19937_64 rng(33);
  Ciphertext ct;
  ct.c0 = random_poly(c, true, rng);
  ct.c1 = random_poly(c, true, rng);
  auto code_of = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode{};
  };
  EXPECT_EQ(code_of([&] { eval.apply_galois_inplace(ct, 5, keys); }), ErrorCode::missing_galois_key);
  Ciphertext mixed = ct;
  mixed.c1.set_ntt_form(false);
  EXPECT_EQ(code_of([&] { eval.apply_galois_inplace(mixed, 3, keys); }), ErrorCode::parameter_mismatch);
  Ciphertext wrong = ct;
  wrong.c1 = RnsPoly();
  EXPECT_EQ(code_of([&] { eval.apply_galois_inplace(wrong, 3, keys); }), ErrorCode::parameter_mismatch);
  KeySwitchKey key = keys.get(3);
  RnsPoly out0, out1;
  EXPECT_EQ(code_of([&] { eval.key_switch(ct.c1, key, out0, out1); }), ErrorCode::invalid_argument);  // NTT form
  RnsPoly coeff = ct.c1;
  coeff.set_ntt_form(false);
  key.b.pop_back();
  EXPECT_EQ(code_of([&] { eval.key_switch(coeff, key, out0, out1); }), ErrorCode::parameter_mismatch);
  key = keys.get(3);
  key.decomposition_bits = 0;
  EXPECT_EQ(code_of([&] { eval.key_switch(coeff, key, out0, out1); }), ErrorCode::parameter_mismatch);
  key = keys.get(3);
  key.a[0] = RnsPoly();
  EXPECT_EQ(code_of([&] { eval.key_switch(coeff, key, out0, out1); }), ErrorCode::parameter_mismatch);
  (void)n;
}

INSTANTIATE_TEST_SUITE_P(Sets, KeySwitchSpeedTest,
                         ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216),
                         test_util::param_name);

}  // namespace
