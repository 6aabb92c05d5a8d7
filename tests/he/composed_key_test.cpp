// Composed-gadget keys (GadgetBase::composed, params.h): the key switch with
// digits of the coefficient mod Q agrees with the message and with its noise
// model, its NTT-form shortcut (the top digit's transform from the input's)
// gives the very words of the plain path, and every place that reads a key
// refuses a composed one where it does not apply.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "fhellm/error.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/gadget_decomposition.h"
#include "he/hoisted_galois.h"
#include "he/keys.h"
#include "he/serialization.h"
#include "he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;
using test_util::galois_of;

namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // nothing thrown
}

constexpr int kWidth = 18;  // n2048_q54's packing gadget: three digits of the 54-bit Q

}  // namespace

TEST(ComposedKey, OnlyTwoSmallPrimesTakeIt) {
  EXPECT_TRUE(composed_gadget_supported(*Context::get(ParamId::n2048_q54), kWidth));
  EXPECT_EQ(key_switch_digits(*Context::get(ParamId::n2048_q54), Gadget{kWidth, GadgetBase::composed}), 3u);
  EXPECT_EQ(key_switch_digits(*Context::get(ParamId::n2048_q54), Gadget{14, GadgetBase::per_prime}), 4u);
  // One digit of the whole 54-bit coefficient is not below the primes.
  EXPECT_FALSE(composed_gadget_supported(*Context::get(ParamId::n2048_q54), 61));
  for (const ParamId id : {ParamId::n4096_q108, ParamId::n8192_q216}) {
    const ContextPtr ctx = Context::get(id);
    EXPECT_FALSE(composed_gadget_supported(*ctx, kWidth));
    const SecretKey sk = SecretKey::generate(*ctx);
    const std::uint64_t g[] = {3};
    EXPECT_EQ(code_of([&] { make_galois_keys(*ctx, sk, g, kWidth, GadgetBase::composed); }),
              ErrorCode::invalid_argument);
  }
}

TEST(ComposedKey, KeySwitchNoiseIsItsModel) {
  // c s' -> (k0, k1) with k0 + k1 s = c s' + sum_j d_j e_j: variance 3 N
  // (4^18 / 12) 10.5 per coefficient (linear_layout.cpp's v_ks), the digits
  // of a uniform c nearly uniform.
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const std::size_t n = ctx->poly_degree();
  const SecretKey sk = SecretKey::generate(*ctx);
  const Evaluator eval(ctx);
  const Decryptor dec(ctx, sk);
  std::mt19937_64 rng(81);
  std::vector<std::int8_t> other(n);
  for (auto& v : other) v = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
  RnsPoly s_other(*ctx, false);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < n; ++j) s_other.residues(i)[j] = ctx->modulus(i).from_signed(other[j]);
  to_ntt(s_other, *ctx);
  const KeySwitchKey key = make_key_switch_key(*ctx, sk, s_other, kWidth, GadgetBase::composed);
  ASSERT_EQ(key.digit_count(), 3u);
  ASSERT_TRUE(key.digits_per_prime.empty());
  long double sum_sq = 0;
  std::size_t count = 0;
  for (int trial = 0; trial < 4; ++trial) {
    RnsPoly c(*ctx, false);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < n; ++j) c.residues(i)[j] = rng() % ctx->modulus(i).value();
    RnsPoly expect = c;
    to_ntt(expect, *ctx);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < n; ++j)
        expect.residues(i)[j] = ctx->modulus(i).mul(expect.residues(i)[j], s_other.residues(i)[j]);
    from_ntt(expect, *ctx);
    Ciphertext out(*ctx, true);
    eval.key_switch(c, key, out.c0, out.c1);
    const RnsPoly got = dec.phase(out);
    std::uint64_t residues[2];
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = 0; i < 2; ++i)
        residues[i] = ctx->modulus(i).sub(got.residues(i)[j], expect.residues(i)[j]);
      const long double diff = ctx->coeff_basis().compose_centered(residues).to_long_double();
      sum_sq += diff * diff;
      ++count;
    }
  }
  const double model = 3.0 * static_cast<double>(n) * std::exp2(2.0 * kWidth) / 12.0 * kErrorVariance;
  const double measured = static_cast<double>(sum_sq / count);
  std::printf("composed key switch: noise variance %.3e, model %.3e (ratio %.3f)\n", measured, model,
              measured / model);
  EXPECT_GT(measured / model, 0.85);
  EXPECT_LT(measured / model, 1.1);
}

TEST(ComposedKey, AutomorphismsDecryptAndTheNttShortcutIsExact) {
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const std::size_t n = ctx->poly_degree();
  const SecretKey sk = SecretKey::generate(*ctx);
  const Encryptor enc(ctx, sk);
  const Decryptor dec(ctx, sk);
  const Evaluator eval(ctx);
  const Scale scale = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 20);
  std::mt19937_64 rng(82);
  const auto m = test_util::random_values(n, 1 << 18, rng);
  const std::vector<std::uint64_t> elts = {3, 5, n + 1, 2 * n - 1};
  const GaloisKeys keys = make_galois_keys(*ctx, sk, elts, kWidth, GadgetBase::composed);
  const Ciphertext ct = enc.encrypt(m.data(), n, scale);
  for (const std::uint64_t g : elts) {
    Ciphertext in_ntt = ct, in_coeff = ct, out_ntt, out_coeff;
    eval.transform_from_ntt_inplace(in_coeff);
    eval.apply_galois(in_ntt, g, keys, out_ntt);      // top digit's transform from sigma(c1)'s
    eval.apply_galois(in_coeff, g, keys, out_coeff);  // every digit transformed
    EXPECT_EQ(dec.decrypt(out_ntt, scale).message, galois_of(m, g)) << "g " << g;
    eval.transform_from_ntt_inplace(out_ntt);
    EXPECT_EQ(out_ntt.c0, out_coeff.c0) << "g " << g;
    EXPECT_EQ(out_ntt.c1, out_coeff.c1) << "g " << g;
    eval.apply_galois_inplace(in_ntt, g, keys);
    EXPECT_EQ(dec.decrypt(in_ntt, scale).message, galois_of(m, g)) << "in place, g " << g;
  }
}

TEST(ComposedKey, SerializedKeysKeepTheirGadgetAndBadBytesAreRefused) {
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const SecretKey sk = SecretKey::generate(*ctx);
  const std::uint64_t elts[] = {3, 5};
  const GaloisKeys keys = make_galois_keys(*ctx, sk, elts, kWidth, GadgetBase::composed);
  const auto bytes = save(keys, *ctx);
  const GaloisKeys loaded = load_galois_keys(*ctx, bytes);
  ASSERT_EQ(loaded.get(3).base, GadgetBase::composed);
  ASSERT_EQ(loaded.get(3).decomposition_bits, kWidth);
  ASSERT_EQ(loaded.get(3).b.size(), 3u);
  // The same key: one key switch gives the same words.
  const Evaluator eval(ctx);
  const Ciphertext ct = Encryptor(ctx, sk).encrypt_zero();
  Ciphertext a, b;
  eval.apply_galois(ct, 3, keys, a);
  eval.apply_galois(ct, 3, loaded, b);
  EXPECT_EQ(a.c0, b.c0);
  EXPECT_EQ(a.c1, b.c1);
  // Header (16 bytes), u32 count, u8 width, u8 gadget base.
  auto bad = bytes;
  bad[21] = 2;  // no such base
  EXPECT_EQ(code_of([&] { load_galois_keys(*ctx, bad); }), ErrorCode::bad_version);
  bad = bytes;
  bad[20] = 61;  // a composed width whose single digit does not fit the primes
  EXPECT_EQ(code_of([&] { load_galois_keys(*ctx, bad); }), ErrorCode::bad_parameters);
  bad = bytes;
  bad[21] = 0;  // read as per prime: four digits of 18 bits, not the bytes of three
  EXPECT_EQ(code_of([&] { load_galois_keys(*ctx, bad); }), ErrorCode::truncated);
  // A single key switching key: u8 width at 16, u8 base at 17.
  const KeySwitchKey one = keys.get(5);
  const auto key_bytes = save(one, *ctx);
  EXPECT_EQ(load_key_switch_key(*ctx, key_bytes).base, GadgetBase::composed);
  auto bad_key = key_bytes;
  bad_key[17] = 7;
  EXPECT_EQ(code_of([&] { load_key_switch_key(*ctx, bad_key); }), ErrorCode::bad_version);
  // Composed bytes on a set that cannot take them.
  const ContextPtr big = Context::get(ParamId::n4096_q108);
  EXPECT_EQ(code_of([&] { load_galois_keys(*big, bytes); }), ErrorCode::parameter_mismatch);
}

// A server keeps its loaded keys in the 32-bit words the key switches read
// (drop_key_words64): the same results, no save, a key whose words do not
// fit the context refused.
TEST(ComposedKey, KeysHeldInTheir32BitWordsOnly) {
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const SecretKey sk = SecretKey::generate(*ctx);
  const Evaluator eval(ctx);
  const Ciphertext ct = Encryptor(ctx, sk).encrypt_zero();
  for (const GadgetBase base : {GadgetBase::per_prime, GadgetBase::composed}) {
    const int w = base == GadgetBase::composed ? kWidth : 14;
    const std::uint64_t g[] = {5};
    GaloisKeys full = make_galois_keys(*ctx, sk, g, w, base);
    KeySwitchKey key = full.get(5);
    compact_key_words32(*ctx, key);
    ASSERT_EQ(key.digits32, key.b.size());
    GaloisKeys with_words;
    with_words.insert(ctx->param_id(), 5, key);
    drop_key_words64(key);
    EXPECT_TRUE(key.b.empty());
    EXPECT_EQ(key.digit_count(), key.digits32);
    GaloisKeys words_only;
    words_only.insert(ctx->param_id(), 5, key);
    Ciphertext a, b;
    eval.apply_galois(ct, 5, with_words, a);
    eval.apply_galois(ct, 5, words_only, b);
    EXPECT_EQ(a.c0, b.c0);
    EXPECT_EQ(a.c1, b.c1);
    EXPECT_EQ(code_of([&] { save(words_only, *ctx); }), ErrorCode::invalid_argument);
    EXPECT_EQ(code_of([&] { save(key, *ctx); }), ErrorCode::invalid_argument);
    KeySwitchKey short_key = key;
    short_key.digits32 += 1;  // claims a digit its words do not hold
    GaloisKeys bad;
    bad.insert(ctx->param_id(), 5, short_key);
    Ciphertext out;
    EXPECT_EQ(code_of([&] { eval.apply_galois(ct, 5, bad, out); }), ErrorCode::parameter_mismatch);
  }
}

TEST(ComposedKey, HoistedAutomorphismsOfEveryWidthAndMismatchesRefused) {
  // The input side's keys (6 bits, 9 digits) and the sequential ones (5
  // bits, 11), hoisted: every element decrypts to the permuted message.
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const std::size_t n = ctx->poly_degree();
  const SecretKey sk = SecretKey::generate(*ctx);
  const Encryptor enc(ctx, sk);
  const Decryptor dec(ctx, sk);
  const Scale scale = Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 20);
  std::mt19937_64 rng(83);
  const auto m = test_util::random_values(n, 1 << 18, rng);
  const Ciphertext ct = enc.encrypt(m.data(), n, scale);
  const std::vector<std::uint64_t> elts = {3, 5, 15, 2 * n - 1};
  for (const int w : {5, 6, kWidth}) {
    const Gadget gadget{w, GadgetBase::composed};
    const GaloisKeys keys = make_galois_keys(*ctx, sk, elts, w, GadgetBase::composed);
    EXPECT_EQ(keys.get(3).b.size(), key_switch_digits(*ctx, gadget));
    const HoistedGaloisKeys laid_out(*ctx, keys);
    EXPECT_EQ(laid_out.gadget(), gadget);
    const HoistedCiphertext hoisted(ctx, ct, gadget);
    for (const std::uint64_t g : elts) {
      EXPECT_EQ(dec.decrypt(hoisted.apply_galois(g, laid_out), scale).message, galois_of(m, g)) << "w " << w;
      EXPECT_EQ(dec.decrypt(hoisted.apply_galois(g, keys), scale).message, galois_of(m, g)) << "w " << w;
    }
    // A per-prime decomposition of the same width meets composed keys: refused.
    const HoistedCiphertext per_prime(ctx, ct, w);
    EXPECT_EQ(code_of([&] { per_prime.apply_galois(3, laid_out); }), ErrorCode::parameter_mismatch);
  }
  // DecomposedPoly checks the base as well as the width.
  const std::uint64_t three[] = {3};
  const GaloisKeys keys = make_galois_keys(*ctx, sk, three, kWidth, GadgetBase::composed);
  const DecomposedPoly digits(ctx, ct.c1, kWidth);
  RnsPoly o0, o1;
  EXPECT_EQ(code_of([&] { digits.key_switch(keys.get(3), o0, o1); }), ErrorCode::parameter_mismatch);
  // A key whose base byte was tampered with in memory is refused by the evaluator.
  KeySwitchKey odd = keys.get(3);
  odd.base = static_cast<GadgetBase>(5);
  GaloisKeys tampered;
  tampered.insert(ctx->param_id(), 3, odd);
  Ciphertext out;
  EXPECT_EQ(code_of([&] { Evaluator(ctx).apply_galois(ct, 3, tampered, out); }), ErrorCode::parameter_mismatch);
}
