// Reading a session's key bundle without parsing it (peek_linear_server_keys)
// and counting the memory parsed keys hold (memory_size.h).
#include <gtest/gtest.h>

#include "fhellm/error.h"
#include "common/bytes.h"
#include "he/linear.h"
#include "he/linear_detail.h"
#include "he/memory_size.h"

namespace fhellm::he {
namespace {

template <class F>
ErrorCode code_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;
}

TEST(KeyBundle, PeekFindsEverySetAndItsRecordWithoutParsing) {
  const LinearClient client;
  const std::vector<std::uint8_t> bytes = client.server_keys().save();
  const auto sets = peek_linear_server_keys(bytes);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].id, ParamId::n2048_q54);
  EXPECT_EQ(sets[1].id, ParamId::n4096_q108);
  EXPECT_EQ(8 + sets[0].bytes + sets[1].bytes, bytes.size());
  for (std::size_t n : {std::size_t{0}, std::size_t{7}, std::size_t{9}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_EQ(code_of([&] { peek_linear_server_keys({bytes.data(), n}); }), ErrorCode::truncated) << n;
  auto more = bytes;
  more.push_back(0);
  EXPECT_EQ(code_of([&] { peek_linear_server_keys(more); }), ErrorCode::trailing_bytes);
  auto bad = bytes;
  bad[8] = 0x7F;  // the first set's parameter id
  EXPECT_EQ(code_of([&] { peek_linear_server_keys(bad); }), ErrorCode::unknown_parameter_id);
}

TEST(KeyBundle, MemoryCountAddsUpItsParts) {
  const LinearClient client({ParamId::n2048_q54});
  const LinearServerKeys keys = LinearServerKeys::load(client.server_keys().save());
  const LinearSessionKeys& k = keys.get(ParamId::n2048_q54);
  const std::size_t parts = memory_bytes(k.galois) + memory_bytes(k.galois_composed) + memory_bytes(k.galois_input) +
                            memory_bytes(k.galois_sequential) + memory_bytes(k.zero) +
                            (k.input_hoisted ? memory_bytes(*k.input_hoisted) : 0) +
                            (k.shared_mask ? memory_bytes(*k.shared_mask) : 0) +
                            (k.square ? memory_bytes(*k.square) : 0);
  ASSERT_TRUE(k.square.has_value());  // n2048_q54 carries the lookup's square key
  ASSERT_FALSE(k.galois_composed.keys().empty());  // and composed packing keys
  EXPECT_GE(memory_bytes(keys), parts);
  EXPECT_LT(memory_bytes(keys), parts + 4096);
  // A polynomial: its words and one allocator header.
  EXPECT_EQ(memory_bytes(k.zero.c0), 8 * k.zero.c0.size() + 16);
  EXPECT_EQ(memory_bytes(RnsPoly()), 0u);
}

// A server keeps the input-side keys in their hoisted 32-bit layout only
// (the 64-bit copy is dropped at load): every element is there, calls still
// run on them, and saving such a set is refused rather than writing a bundle
// without them.
TEST(KeyBundle, LoadedSetsKeepTheInputSideKeysHoistedOnly) {
  const LinearClient client({ParamId::n2048_q54});
  const LinearServerKeys built = client.server_keys();
  const LinearSessionKeys& b = built.get(ParamId::n2048_q54);
  ASSERT_FALSE(b.galois_input.keys().empty());
  const LinearServerKeys keys = LinearServerKeys::load(built.save());
  const LinearSessionKeys& k = keys.get(ParamId::n2048_q54);
  EXPECT_TRUE(k.galois_input.keys().empty());
  ASSERT_TRUE(k.input_hoisted);
  for (const auto& [g, key] : b.galois_input.keys()) EXPECT_TRUE(k.input_hoisted->has(g)) << g;
  EXPECT_LT(memory_bytes(keys) + memory_bytes(b.galois_input) / 2, memory_bytes(built));
  EXPECT_EQ(code_of([&] { (void)keys.save(); }), ErrorCode::invalid_argument);
  // A call whose plan uses the input side (768 -> 768: L = 5) on the loaded keys.
  const LinearShape s{2, 768, 768};
  ASSERT_GT(plan_linear(s, LinearPrecision::standard, false).geo.input_levels, 0);
  std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in);
  std::vector<std::int8_t> w(std::size_t{s.out} * s.in);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 37 % 251);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::int8_t>(i * 11 % 255 - 127);
  const EncodedWeights weights(w, s.out, s.in);
  const std::vector<std::int64_t> y = client.decrypt(linear_evaluate(client.encrypt(std::span<const std::uint8_t>(x), s), weights, keys));
  ASSERT_EQ(y.size(), std::size_t{s.rows} * s.out);
  const std::int64_t floor = plan_linear(s, LinearPrecision::standard, false).error_floor;
  for (std::size_t r = 0; r < s.rows; ++r)
    for (std::size_t o = 0; o < s.out; o += 97) {
      std::int64_t want = 0;
      for (std::size_t j = 0; j < s.in; ++j) want += std::int64_t{x[r * s.in + j]} * w[o * s.in + j];
      EXPECT_LE(std::llabs(y[r * s.out + o] - want), floor) << r << " " << o;
    }
}

// The packing keys a session must carry: both sets on n2048_q54 (composed for
// S = 0 plans, per prime for S > 0), each with the gadget the plans use.
TEST(KeyBundle, PackingSetsMissingOrOfAnotherGadgetAreRefused) {
  const LinearClient client({ParamId::n2048_q54});
  const LinearServerKeys built = client.server_keys();
  const LinearSessionKeys& good = built.get(ParamId::n2048_q54);
  ASSERT_EQ(good.galois_composed.keys().size(), good.galois.keys().size());
  ASSERT_EQ(good.galois_composed.get(3).base, GadgetBase::composed);
  ASSERT_EQ(good.galois.get(3).base, GadgetBase::per_prime);
  const auto bundle = [](const LinearSessionKeys& k) {
    Bytes out;
    ByteWriter w(out);
    detail::write_linear_keys_header(w, 1);
    detail::write_linear_key_set(w, k);
    return out;
  };
  EXPECT_NO_THROW(LinearServerKeys::load(bundle(good)));
  LinearSessionKeys no_composed = good;
  no_composed.galois_composed = GaloisKeys{};
  EXPECT_EQ(code_of([&] { LinearServerKeys::load(bundle(no_composed)); }), ErrorCode::missing_galois_key);
  LinearSessionKeys swapped = good;
  std::swap(swapped.galois, swapped.galois_composed);
  EXPECT_EQ(code_of([&] { LinearServerKeys::load(bundle(swapped)); }), ErrorCode::bad_parameters);
  LinearSessionKeys per_prime_twice = good;
  per_prime_twice.galois_composed = good.galois;
  EXPECT_EQ(code_of([&] { LinearServerKeys::load(bundle(per_prime_twice)); }), ErrorCode::bad_parameters);
}

// A server without weight privacy keeps only the composed packing set; an
// S > 0 plan then gets a clear error, not a wrong answer. With S > 0 both
// stay (the lookup's plans are S = 0's).
TEST(KeyBundle, AServerKeepsThePackingSetOfItsWeightPrivacy) {
  const LinearClient client({ParamId::n2048_q54});
  const auto bytes = client.server_keys().save();
  const LinearShape s{1, 64, 512};
  std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in, 3);
  std::vector<std::int8_t> w(std::size_t{s.out} * s.in, 2);
  const std::vector<std::int64_t> want(std::size_t{s.rows} * s.out, 3 * 2 * 64);
  for (const int privacy : {0, 4}) {
    LinearServerKeys keys = LinearServerKeys::load(bytes);
    const std::size_t before = memory_bytes(keys);
    keys.keep_packing_for(privacy);
    const LinearSessionKeys& k = keys.get(ParamId::n2048_q54);
    EXPECT_EQ(k.galois.keys().empty(), privacy == 0);
    EXPECT_FALSE(k.galois_composed.keys().empty());
    // The per-prime set in its 32-bit words: 11 elements x 4 digits x 32 KiB.
    if (privacy == 0) EXPECT_LT(memory_bytes(keys) + (std::size_t{1} << 20), before) << "at least 1 MiB less";
    else EXPECT_EQ(memory_bytes(keys), before);
    const LinearPrecision precisions[] = {LinearPrecision::standard};
    const EncodedWeights weights(w, s.out, s.in, precisions, 1, privacy);
    const auto upload = client.encrypt(std::span<const std::uint8_t>(x), s, LinearPrecision::standard, privacy);
    const std::vector<std::int64_t> y = client.decrypt(linear_evaluate(upload, weights, keys, 1));
    const std::int64_t floor = plan_linear(s, LinearPrecision::standard, false, privacy).error_floor;
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_LE(std::llabs(y[i] - want[i]), floor) << i;
    if (privacy != 0) continue;
    // An S = 4 plan on the S = 0 server's keys finds its packing keys missing.
    const EncodedWeights other_weights(w, s.out, s.in, precisions, 1, 4);
    const auto other_upload = client.encrypt(std::span<const std::uint8_t>(x), s, LinearPrecision::standard, 4);
    EXPECT_EQ(code_of([&] { (void)linear_evaluate(other_upload, other_weights, keys, 1); }),
              ErrorCode::missing_galois_key);
  }
}

}  // namespace
}  // namespace fhellm::he
