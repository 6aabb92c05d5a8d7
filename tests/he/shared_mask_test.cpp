// One mask for two bodies (shared_mask.h): two ciphertexts under s become one
// mask and two bodies under fresh secrets t1, t2 that decrypt to the same
// messages; the key survives a save/load round trip; damaged keys are rejected.
#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "fhellm/he/decryptor.h"
#include "fhellm/he/encryptor.h"
#include "fhellm/he/evaluator.h"
#include "fhellm/he/shared_mask.h"
#include "he_test_util.h"

namespace fhellm::he {
namespace {

class SharedMask : public ::testing::TestWithParam<ParamId> {};

TEST_P(SharedMask, TwoCiphertextsOneMaskBothDecrypt) {
  const auto ctx = Context::get(GetParam());
  const SecretKey s = SecretKey::generate(*ctx), t1 = SecretKey::generate(*ctx), t2 = SecretKey::generate(*ctx);
  const SharedMaskKey key = make_shared_mask_key(*ctx, s, t1, t2);
  const Scale scale = Scale::from_plain_modulus(*ctx, 1 << 16);
  std::mt19937_64 rng(7);
  const auto ma = test_util::random_values(ctx->poly_degree(), 30000, rng);
  const auto mb = test_util::random_values(ctx->poly_degree(), 30000, rng);
  const Encryptor enc(ctx, s);
  Ciphertext a = enc.encrypt(ma.data(), ma.size(), scale), b = enc.encrypt(mb.data(), mb.size(), scale);
  Prng prng(random_seed());
  // Round trip of the key before use: the loaded key must work the same.
  const SharedMaskKey loaded = load_shared_mask_key(*ctx, save(key, *ctx));
  shared_mask_switch(*ctx, loaded, a, b, prng);
  ASSERT_FALSE(a.is_ntt_form());
  EXPECT_TRUE(a.c1 == b.c1) << "the two outputs must share their mask";
  const auto da = Decryptor(ctx, t1).measure(a, scale, ma);
  const auto db = Decryptor(ctx, t2).measure(b, scale, mb);
  EXPECT_EQ(da.message, ma);
  EXPECT_EQ(db.message, mb);
  // Under the source secret the outputs no longer decrypt.
  EXPECT_NE(Decryptor(ctx, s).decrypt(a, scale).message, ma);
  // And each body needs its own target secret.
  EXPECT_NE(Decryptor(ctx, t2).decrypt(a, scale).message, ma);
}

TEST_P(SharedMask, DamagedKeysAreRejected) {
  const auto ctx = Context::get(GetParam());
  const SecretKey s = SecretKey::generate(*ctx), t1 = SecretKey::generate(*ctx), t2 = SecretKey::generate(*ctx);
  const auto bytes = save(make_shared_mask_key(*ctx, s, t1, t2), *ctx);
  auto expect_code = [&](std::vector<std::uint8_t> b, ErrorCode code) {
    try {
      (void)load_shared_mask_key(*ctx, b);
      ADD_FAILURE() << "accepted a damaged key, expected " << static_cast<int>(code);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  expect_code(std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 1), ErrorCode::truncated);
  auto extra = bytes;
  extra.push_back(0);
  expect_code(extra, ErrorCode::trailing_bytes);
  auto magic = bytes;
  magic[0] = 'X';
  expect_code(magic, ErrorCode::bad_magic);
  auto version = bytes;
  version[4] = 9;
  expect_code(version, ErrorCode::bad_version);
  auto reserved = bytes;
  reserved[9] = 1;
  expect_code(reserved, ErrorCode::bad_message);
  // A coefficient >= q_0: all-ones bits in the first body value.
  auto big = bytes;
  const std::size_t first_body = 12 + 3 * 32;
  for (int i = 0; i < 5; ++i) big[first_body + i] = 0xff;  // covers the first value at widths <= 40
  expect_code(big, ErrorCode::coefficient_out_of_range);
  // Another parameter set's context.
  const ParamId other = GetParam() == ParamId::n2048_q54 ? ParamId::n4096_q108 : ParamId::n2048_q54;
  try {
    (void)load_shared_mask_key(*Context::get(other), bytes);
    ADD_FAILURE() << "loaded under another parameter set";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch);
  }
}

INSTANTIATE_TEST_SUITE_P(Sets, SharedMask, ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108),
                         test_util::param_name);

}  // namespace
}  // namespace fhellm::he
