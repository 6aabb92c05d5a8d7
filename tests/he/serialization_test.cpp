#include <gtest/gtest.h>

#include <cstring>

#include "fhellm/error.h"
#include "he/bit_packing.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/serialization.h"
#include "he_test_util.h"

using namespace fhellm;
using namespace fhellm::he;

namespace {

class SerializationTest : public ::testing::TestWithParam<ParamId> {
 protected:
  void SetUp() override {
    ctx = Context::get(GetParam());
    sk = SecretKey::generate(*ctx);
    scale = Scale::from_plain_modulus(*ctx, 1 << 20);
    std::mt19937_64 rng(5);
    m = test_util::random_values(ctx->poly_degree(), scale.max_message(), rng);
  }
  ContextPtr ctx;
  SecretKey sk;
  Scale scale;
  std::vector<std::int64_t> m;
};

template <typename F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // "did not throw"
}

void put_u32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

}  // namespace

TEST(BitPacking, RoundTripsAtEveryWidth) {
  std::mt19937_64 rng(1);
  for (int width = 1; width <= 64; ++width) {
    std::vector<std::uint64_t> v(37);
    for (auto& x : v) x = width == 64 ? rng() : rng() & ((std::uint64_t{1} << width) - 1);
    const auto packed = pack_bits(v, width);
    ASSERT_EQ(packed.size(), packed_size_bytes(v.size(), width));
    std::vector<std::uint64_t> back(v.size());
    unpack_bits(packed.data(), back.size(), width, back.data());
    ASSERT_EQ(back, v) << "width " << width;
  }
  EXPECT_EQ(bit_width_for_modulus(2), 1);
  EXPECT_EQ(bit_width_for_modulus(1024), 10);
  EXPECT_EQ(bit_width_for_modulus(1025), 11);
}

TEST(BitPacking, StreamMatchesItsDefinitionAtEveryWidthAndLength) {
  // Bit b of the stream is bit (b % w) of value b / w, least significant bit
  // of byte b / 8 first; padding bits are zero. Lengths around the word
  // paths' edges (the last 8 bytes, whole 64-bit words).
  std::mt19937_64 rng(2);
  for (int width = 1; width <= 64; ++width) {
    for (std::size_t count : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 1000}) {
      std::vector<std::uint64_t> v(count);
      for (auto& x : v) x = width == 64 ? rng() : rng() & ((std::uint64_t{1} << width) - 1);
      if (count > 0) v[0] = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;  // all ones
      const auto packed = pack_bits(v, width);
      ASSERT_EQ(packed.size(), packed_size_bytes(count, width));
      for (std::size_t b = 0; b < packed.size() * 8; ++b) {
        const int want = b < count * width ? static_cast<int>((v[b / width] >> (b % width)) & 1) : 0;
        ASSERT_EQ((packed[b / 8] >> (b % 8)) & 1, want) << "width " << width << " count " << count << " bit " << b;
      }
      std::vector<std::uint64_t> back(count, 0xdead);
      unpack_bits(packed.data(), count, width, back.data());
      ASSERT_EQ(back, v) << "width " << width << " count " << count;
    }
  }
}

TEST_P(SerializationTest, RoundTrips) {
  Encryptor enc(ctx, sk);
  Decryptor dec(ctx, sk);
  Evaluator eval(ctx);
  // Parameters.
  EXPECT_EQ(&load_parameters(save_parameters(ctx->params())), &parameter_set(GetParam()));
  // Seeded ciphertext: exact size, decrypts after reload.
  const SeededCiphertext seeded = enc.encrypt_seeded(m.data(), m.size(), scale);
  const auto seeded_bytes = save(seeded, *ctx);
  EXPECT_EQ(seeded_bytes.size(), seeded_ciphertext_bytes(*ctx));
  EXPECT_EQ(peek_param_id(seeded_bytes), GetParam());
  const SeededCiphertext seeded_back = load_seeded_ciphertext(*ctx, seeded_bytes);
  EXPECT_EQ(seeded_back.seed, seeded.seed);
  EXPECT_EQ(seeded_back.c0, seeded.c0);
  EXPECT_EQ(dec.decrypt(expand(*ctx, seeded_back), scale).message, m);
  // Full ciphertext in both forms.
  Ciphertext ct = expand(*ctx, seeded);
  for (bool ntt : {true, false}) {
    if (!ntt) eval.transform_from_ntt_inplace(ct);
    const auto bytes = save(ct, *ctx);
    EXPECT_EQ(bytes.size(), kHeaderBytes + 2 * rns_poly_bytes(*ctx));
    EXPECT_EQ(load_ciphertext(*ctx, bytes), ct);
  }
  // Switched ciphertext.
  const SwitchedCiphertext sw = eval.switch_modulus(ct, (1u << 27) + 5, std::uint64_t{1} << 35);
  const auto sw_bytes = save(sw);
  EXPECT_EQ(sw_bytes.size(), switched_ciphertext_bytes(ctx->poly_degree(), sw.body_modulus, sw.mask_modulus));
  const SwitchedCiphertext sw_back = load_switched_ciphertext(*ctx, sw_bytes);
  EXPECT_EQ(sw_back.c0, sw.c0);
  EXPECT_EQ(sw_back.c1, sw.c1);
  EXPECT_EQ(dec.decrypt(sw_back, scale).message, m);
  // Secret key.
  const SecretKey sk_back = load_secret_key(*ctx, save(sk));
  EXPECT_EQ(sk_back.coefficients(), sk.coefficients());
  EXPECT_EQ(save(sk).size(), kHeaderBytes + ctx->poly_degree() / 4);
  // Galois keys: reloaded keys work.
  const GaloisKeys keys = make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3, 5});
  const auto key_bytes = save(keys, *ctx);
  const GaloisKeys keys_back = load_galois_keys(*ctx, key_bytes);
  ASSERT_TRUE(keys_back.has(3) && keys_back.has(5));
  for (std::uint64_t g : {3u, 5u}) {
    ASSERT_EQ(keys_back.get(g).b.size(), keys.get(g).b.size());
    for (std::size_t d = 0; d < keys.get(g).b.size(); ++d) {
      EXPECT_EQ(keys_back.get(g).b[d], keys.get(g).b[d]);
      EXPECT_EQ(keys_back.get(g).a[d], keys.get(g).a[d]);
    }
  }
  Ciphertext rotated = expand(*ctx, seeded);
  eval.apply_galois_inplace(rotated, 3, keys_back);
  EXPECT_GT(dec.decrypt(rotated, scale).noise_budget_bits, 0);
}

TEST_P(SerializationTest, HostileInputsAreRejectedWithTheirErrorCode) {
  Encryptor enc(ctx, sk);
  const auto good = save(enc.encrypt_seeded(m.data(), m.size(), scale), *ctx);
  auto load = [&](std::vector<std::uint8_t> b) { return [&ctx = ctx, b] { load_seeded_ciphertext(*ctx, b); }; };

  // Truncated: at every length class (empty, inside the header, inside the payload).
  for (std::size_t len : {std::size_t{0}, std::size_t{3}, std::size_t{15}, std::size_t{16}, std::size_t{40},
                          good.size() - 1}) {
    std::vector<std::uint8_t> b(good.begin(), good.begin() + len);
    EXPECT_EQ(code_of(load(b)), ErrorCode::truncated) << "len " << len;
  }
  // Wrong magic, wrong version, non-zero reserved field.
  auto b = good;
  b[0] = 'X';
  EXPECT_EQ(code_of(load(b)), ErrorCode::bad_magic);
  b = good;
  b[4] = 2;
  EXPECT_EQ(code_of(load(b)), ErrorCode::bad_version);
  // Wrong parameter id: unknown, and known but not this context's.
  b = good;
  b[8] = 77;
  EXPECT_EQ(code_of(load(b)), ErrorCode::unknown_parameter_id);
  b = good;
  b[8] = GetParam() == ParamId::n2048_q54 ? 2 : 1;
  EXPECT_EQ(code_of(load(b)), ErrorCode::parameter_mismatch);
  // Wrong object type.
  b = good;
  b[6] = static_cast<std::uint8_t>(ObjectType::ciphertext);
  EXPECT_EQ(code_of(load(b)), ErrorCode::parameter_mismatch);
  // Absurd lengths: payload size beyond the maximum, beyond the bytes present,
  // and short of them (trailing bytes).
  b = good;
  put_u32(b, 12, 0xffffffffu);
  EXPECT_EQ(code_of(load(b)), ErrorCode::length_too_large);
  b = good;
  put_u32(b, 12, static_cast<std::uint32_t>(good.size()));
  EXPECT_EQ(code_of(load(b)), ErrorCode::truncated);
  b = good;
  b.push_back(0);
  EXPECT_EQ(code_of(load(b)), ErrorCode::trailing_bytes);
  b = good;
  put_u32(b, 12, static_cast<std::uint32_t>(good.size() - kHeaderBytes - 1));
  EXPECT_EQ(code_of(load(b)), ErrorCode::trailing_bytes);
  // Coefficient >= q: set the first packed coefficient of c0 to all ones.
  b = good;
  const int width = bit_width_for_modulus(ctx->modulus(0).value());
  for (int bit = 0; bit < width; ++bit) b[kHeaderBytes + 32 + bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8));
  EXPECT_EQ(code_of(load(b)), ErrorCode::coefficient_out_of_range);

  // Galois keys: absurd key count, inconsistent size, bad element.
  const auto keys = save(make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3}), *ctx);
  auto load_keys = [&](std::vector<std::uint8_t> kb) { return [&ctx = ctx, kb] { load_galois_keys(*ctx, kb); }; };
  auto kb = keys;
  put_u32(kb, kHeaderBytes, 1000000);
  EXPECT_EQ(code_of(load_keys(kb)), ErrorCode::length_too_large);
  kb = keys;
  put_u32(kb, kHeaderBytes, 2);
  EXPECT_EQ(code_of(load_keys(kb)), ErrorCode::truncated);
  kb = keys;
  put_u32(kb, kHeaderBytes + 8, 4);  // even Galois element
  EXPECT_EQ(code_of(load_keys(kb)), ErrorCode::bad_parameters);
  kb = keys;
  kb[kHeaderBytes + 4] = 0;  // digit width 0
  EXPECT_EQ(code_of(load_keys(kb)), ErrorCode::bad_parameters);

  // Secret key with the invalid 2-bit code 3.
  auto skb = save(sk);
  skb[kHeaderBytes] |= 3;
  EXPECT_EQ(code_of([&] { load_secret_key(*ctx, skb); }), ErrorCode::coefficient_out_of_range);

  // Switched ciphertext with a modulus of 0 or 2^63, and a coefficient >= its modulus.
  Evaluator eval(ctx);
  const auto sw = save(eval.switch_modulus(expand(*ctx, load_seeded_ciphertext(*ctx, good)), 1000, 1u << 20));
  auto swb = sw;
  std::memset(swb.data() + kHeaderBytes, 0, 8);
  EXPECT_EQ(code_of([&] { load_switched_ciphertext(*ctx, swb); }), ErrorCode::bad_parameters);
  swb = sw;
  swb[kHeaderBytes + 7] = 0x80;
  EXPECT_EQ(code_of([&] { load_switched_ciphertext(*ctx, swb); }), ErrorCode::bad_parameters);
  swb = sw;
  swb[kHeaderBytes + 16] = 0xff;  // body width 10 bits: 0x3ff = 1023 >= 1000
  swb[kHeaderBytes + 17] |= 0x03;
  EXPECT_EQ(code_of([&] { load_switched_ciphertext(*ctx, swb); }), ErrorCode::coefficient_out_of_range);

  // Parameters that differ from the registered set.
  auto pb = save_parameters(ctx->params());
  pb[kHeaderBytes + 8] ^= 2;  // first prime changed
  EXPECT_EQ(code_of([&] { load_parameters(pb); }), ErrorCode::bad_parameters);
}

TEST_P(SerializationTest, RandomCorruptionNeverCrashes) {
  // Fuzz-style: flip random bytes; every outcome is a clean load or an Error.
  Encryptor enc(ctx, sk);
  const auto good = save(enc.encrypt_seeded(m.data(), 64, scale), *ctx);
  std::mt19937_64 rng(99);
  int errors = 0;
  for (int it = 0; it < 200; ++it) {
    auto b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % 24] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    if (rng() % 3 == 0) b.resize(rng() % b.size());
    try {
      load_seeded_ciphertext(*ctx, b);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 150);
}

INSTANTIATE_TEST_SUITE_P(Sets, SerializationTest,
                         ::testing::Values(ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216),
                         test_util::param_name);
