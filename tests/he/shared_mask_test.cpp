// One mask for several bodies (shared_mask.h): 2..g ciphertexts under s
// become one mask and bodies under fresh secrets t_y that decrypt to the same
// messages; the key survives a save/load round trip; damaged keys are rejected.
#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/shared_mask.h"
#include "he_test_util.h"

namespace fhellm::he {
namespace {

class SharedMask : public ::testing::TestWithParam<ParamId> {};

TEST_P(SharedMask, GroupsShareOneMaskAndAllDecrypt) {
  const auto ctx = Context::get(GetParam());
  const SecretKey s = SecretKey::generate(*ctx);
  std::vector<SecretKey> targets;
  for (int y = 0; y < 4; ++y) targets.push_back(SecretKey::generate(*ctx));
  const SharedMaskKey key = make_shared_mask_key(*ctx, s, targets, 14);
  ASSERT_EQ(key.group(), 4u);
  const Scale scale = Scale::from_plain_modulus(*ctx, 1 << 16);
  std::mt19937_64 rng(7);
  const Encryptor enc(ctx, s);
  Prng prng(random_seed());
  // Round trip of the key before use: the loaded key must work the same.
  const SharedMaskKey loaded = load_shared_mask_key(*ctx, save(key, *ctx));
  for (std::size_t count : {2u, 3u, 4u}) {  // a full group and the smaller last groups
    std::vector<std::vector<std::int64_t>> m;
    std::vector<Ciphertext> cts;
    for (std::size_t y = 0; y < count; ++y) {
      m.push_back(test_util::random_values(ctx->poly_degree(), 30000, rng));
      cts.push_back(enc.encrypt(m.back().data(), m.back().size(), scale));
    }
    if (count == 3) Evaluator(ctx).transform_from_ntt_inplace(cts[1]);  // either form in
    std::vector<Ciphertext*> members;
    for (auto& ct : cts) members.push_back(&ct);
    shared_mask_switch(*ctx, loaded, members, prng);
    for (std::size_t y = 0; y < count; ++y) {
      ASSERT_FALSE(cts[y].is_ntt_form());
      EXPECT_TRUE(cts[y].c1 == cts[0].c1) << "the outputs must share their mask";
      EXPECT_EQ(Decryptor(ctx, targets[y]).measure(cts[y], scale, m[y]).message, m[y]) << "count " << count << " y " << y;
    }
    // Under the source secret the outputs no longer decrypt, and each body needs its own target secret.
    EXPECT_NE(Decryptor(ctx, s).decrypt(cts[0], scale).message, m[0]);
    EXPECT_NE(Decryptor(ctx, targets[1]).decrypt(cts[0], scale).message, m[0]);
  }
  Ciphertext lone = enc.encrypt(std::vector<std::int64_t>(ctx->poly_degree(), 1).data(), ctx->poly_degree(), scale);
  std::vector<Ciphertext*> one{&lone};
  EXPECT_THROW(shared_mask_switch(*ctx, loaded, one, prng), Error);  // groups of one stay under s
  EXPECT_THROW(make_shared_mask_key(*ctx, s, std::vector<SecretKey>{targets[0]}), Error);
}

TEST_P(SharedMask, DamagedKeysAreRejected) {
  const auto ctx = Context::get(GetParam());
  const SecretKey s = SecretKey::generate(*ctx);
  const std::vector<SecretKey> targets{SecretKey::generate(*ctx), SecretKey::generate(*ctx), SecretKey::generate(*ctx)};
  const auto bytes = save(make_shared_mask_key(*ctx, s, targets), *ctx);
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
  reserved[10] = 1;
  expect_code(reserved, ErrorCode::bad_message);
  auto group = bytes;
  group[9] = 1;  // groups of one are not shared
  expect_code(group, ErrorCode::bad_message);
  // A coefficient >= q_0: all-ones bits in the first body value.
  auto big = bytes;
  const std::size_t first_body = 12 + 4 * 32;
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
