// The offline half of the online token lookup (docs/online.md section 10):
// rows of residues r mod 2^8, one per table row, encrypted at the mask_table
// precision, times the table's mask encoding (encode_table_masks,
// linear_evaluate), decrypt to r E mod 2^8 exactly, for vocabularies past a
// linear layer's k; and the calls it cannot serve are refused with their codes.
#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/lookup.h"

namespace fhellm::he {
namespace {

struct Fixture {
  LinearClient client{std::vector<ParamId>{ParamId::n2048_q54}};
  LinearServerKeys keys = client.server_keys();
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<std::int8_t> random_table(std::uint32_t rows, std::uint32_t width, std::uint64_t seed, int fill = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<std::int8_t> t(std::size_t{rows} * width);
  for (auto& v : t) v = static_cast<std::int8_t>(fill != 0 ? fill : d(rng));
  return t;
}

std::vector<std::uint32_t> random_masks(std::size_t count, std::uint64_t seed, int fill = -1) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint32_t> r(count);
  for (auto& v : r) v = fill >= 0 ? static_cast<std::uint32_t>(fill) : static_cast<std::uint32_t>(rng() % 256);
  return r;
}

// Number of outputs of r E mod 2^8 that come back wrong (or not centred).
std::size_t wrong_outputs(std::uint32_t v, std::uint32_t width, const std::vector<std::int8_t>& values,
                          const std::vector<std::uint32_t>& r, std::uint32_t rows, int privacy_bits = 0) {
  const EncodedWeights table = encode_table_masks(values, v, width, privacy_bits, 2);
  const LinearShape shape{rows, v, width};
  const LinearPlan plan = plan_linear(shape, LinearPrecision::mask_table, false, privacy_bits);
  EXPECT_EQ(plan.plain_modulus, kOnlineTableModulus);
  const auto upload = fixture().client.encrypt_mask(r, shape, LinearPrecision::mask_table, privacy_bits);
  EXPECT_EQ(upload.size(), plan.bytes_up());
  const auto reply = linear_evaluate(upload, table, fixture().keys, 2);
  EXPECT_EQ(reply.size(), plan.bytes_down());
  const auto y = fixture().client.decrypt(reply);
  EXPECT_EQ(y.size(), std::size_t{rows} * width);
  std::size_t wrong = 0;
  for (std::uint32_t t = 0; t < rows; ++t)
    for (std::uint32_t d = 0; d < width; ++d) {
      std::int64_t want = 0;
      for (std::uint32_t j = 0; j < v; ++j)
        want += std::int64_t{r[std::size_t{t} * v + j]} * values[std::size_t{j} * width + d];
      want = ((want % 256) + 256) % 256;
      const std::int64_t got = y[std::size_t{t} * width + d];
      EXPECT_TRUE(got > -128 && got <= 128) << "not centred: " << got;
      if (((got % 256) + 256) % 256 != want) ++wrong;
    }
  return wrong;
}

TEST(TableMask, PlansForVocabularies) {
  for (auto [v, width] : {std::pair{512u, 64u}, {50257u, 768u}, {128256u, 2048u}}) {
    const LinearPlan plan = plan_linear({1, v, width}, LinearPrecision::mask_table, false, 0);
    EXPECT_EQ(plan.plain_modulus, kOnlineTableModulus);
    EXPECT_EQ(plan.geo.shape.in, v);
    EXPECT_LE(plan.noise.bound(), plan.noise.allowed) << describe(plan);
  }
  // k past a linear layer's limit is a table's only.
  EXPECT_THROW(plan_linear({1, 50257, 768}, LinearPrecision::mask_pow2, false, 0), Error);
  EXPECT_THROW(plan_linear({1, kLinearMaxTableIn + 1, 64}, LinearPrecision::mask_table, false, 0), Error);
  const std::vector<std::int8_t> w(std::size_t{9000} * 4, 1);
  EXPECT_THROW(EncodedWeights(w, 4, 9000), Error);  // the default precision keeps k <= 8192
}

TEST(TableMask, OneChunkTable) {
  const auto values = random_table(512, 64, 1);
  EXPECT_EQ(wrong_outputs(512, 64, values, random_masks(3 * 512, 2), 3), 0u);
}

TEST(TableMask, ManyChunksSummed) {
  const auto values = random_table(5000, 32, 3);
  EXPECT_EQ(wrong_outputs(5000, 32, values, random_masks(2 * 5000, 4), 2), 0u);
}

TEST(TableMask, LargestValuesStayExact) {
  // Every product at its extreme: r = 255, e = -127 (the sum's largest magnitude).
  const auto values = random_table(5000, 16, 5, -127);
  EXPECT_EQ(wrong_outputs(5000, 16, values, random_masks(5000, 6, 255), 1), 0u);
}

TEST(TableMask, GptVocabulary) {
  const auto values = random_table(50257, 16, 7);
  EXPECT_EQ(wrong_outputs(50257, 16, values, random_masks(50257, 8), 1), 0u);
}

TEST(TableMask, CallsItCannotServeAreRefused) {
  const auto values = random_table(5000, 32, 9);
  const EncodedWeights table = encode_table_masks(values, 5000, 32, 0, 2);
  const auto r = random_masks(5000, 10);
  const auto upload = fixture().client.encrypt_mask(r, {1, 5000, 32}, LinearPrecision::mask_table, 0);
  auto code = [&](const std::vector<std::uint8_t>& bytes, const EncodedWeights& w) {
    try {
      (void)linear_evaluate(bytes, w, fixture().keys, 1);
    } catch (const Error& e) {
      return static_cast<int>(e.code());
    }
    return 0;  // accepted
  };
  EXPECT_EQ(code(upload, table), 0);
  // Another table's shape, a truncated upload, a linear layer's weights, another privacy.
  const auto other_values = random_table(4096, 32, 11);
  EXPECT_EQ(code(upload, encode_table_masks(other_values, 4096, 32, 0, 1)), static_cast<int>(ErrorCode::shape_mismatch));
  EXPECT_EQ(code({upload.begin(), upload.end() - 1}, table), static_cast<int>(ErrorCode::truncated));
  std::vector<std::int8_t> w(std::size_t{32} * 4096, 3);
  const EncodedWeights linear(w, 32, 4096);
  const std::vector<std::uint32_t> small(4096, 1);
  const auto linear_upload = fixture().client.encrypt_mask(small, {1, 4096, 32}, LinearPrecision::mask_table, 0);
  EXPECT_EQ(code(linear_upload, linear), static_cast<int>(ErrorCode::precision_not_served));
  EXPECT_EQ(code(upload, encode_table_masks(values, 5000, 32, 3, 1)), static_cast<int>(ErrorCode::precision_not_served));
  // Residues must be below 2^8.
  std::vector<std::uint32_t> big = r;
  big[17] = 256;
  EXPECT_THROW((void)fixture().client.encrypt_mask(big, {1, 5000, 32}, LinearPrecision::mask_table, 0), Error);
}

}  // namespace
}  // namespace fhellm::he
