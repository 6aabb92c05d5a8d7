// The encrypted matrix product end to end: exact precision equals the integer
// matmul, the default precision stays within its documented floor, extreme and
// zero rows, shapes that are not powers of two, and hostile messages.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/linear_reference.h"

namespace fhellm::he {
namespace {

struct Fixture {
  LinearClient client{std::vector<ParamId>{ParamId::n2048_q54, ParamId::n4096_q108}};
  LinearServerKeys keys = client.server_keys();
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<std::int8_t> random_w(std::size_t count, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> w(count);
  for (auto& v : w) v = static_cast<std::int8_t>(d(rng));
  return w;
}

// Runs one call; returns max |error| and checks it against the plan's floor.
std::int64_t run_case(LinearShape s, LinearPrecision prec, bool input_signed, int fill, std::uint64_t seed,
                      int weight_fill = 0) {
  std::mt19937_64 rng(seed);
  auto w = random_w(std::size_t{s.out} * s.in, rng);
  if (weight_fill != 0)
    for (auto& v : w) v = static_cast<std::int8_t>(weight_fill);
  std::vector<std::int32_t> x32(std::size_t{s.rows} * s.in);
  std::vector<std::uint8_t> upload;
  if (input_signed) {
    std::uniform_int_distribution<int> d(-128, 127);
    std::vector<std::int8_t> x(x32.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::int8_t>(fill == 1000 ? d(rng) : fill), x32[i] = x[i];
    upload = fixture().client.encrypt(std::span<const std::int8_t>(x), s, prec);
  } else {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<std::uint8_t> x(x32.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(fill == 1000 ? d(rng) : fill), x32[i] = x[i];
    upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), s, prec);
  }
  const LinearPrecision precisions[] = {prec};
  const EncodedWeights weights(w, s.out, s.in, precisions);
  // Two server threads here (the parallel path); the hostile tests use one.
  const auto reply = linear_evaluate(upload, weights, fixture().keys, 2);
  const auto y = fixture().client.decrypt(reply);
  const auto expect = clear::matmul(s.rows, s.in, s.out, x32.data(), w.data());
  const LinearPlan plan = plan_linear(s, prec, input_signed);
  EXPECT_EQ(upload.size(), plan.bytes_up());
  EXPECT_LE(reply.size(), plan.bytes_down());
  std::int64_t worst = 0;
  int shown = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::int64_t err = std::abs(y[i] - expect[i]);
    worst = std::max(worst, err);
    if (err > plan.error_floor && shown++ < 5)
      ADD_FAILURE() << "row " << i / s.out << " col " << i % s.out << ": got " << y[i] << " want " << expect[i];
  }
  EXPECT_LE(worst, plan.error_floor) << describe(plan);
  return worst;
}

constexpr int kRandom = 1000;

// Exact calls evaluate each row twice over the standard encoding
// (docs/linear.md section 2c): the standard layout and parameter set, T rows
// on the wire and 2T evaluated, replies of exactly the modelled size, each
// kind of row within its own noise bound, the product exact.
TEST(LinearProduct, ExactRowsRideOnTheStandardEncodingWithCompanionRows) {
  for (const LinearShape s : {LinearShape{3, 768, 768}, LinearShape{2, 3072, 40}}) {
    const LinearPlan plan = plan_linear(s, LinearPrecision::exact, false);
    const LinearPlan standard = plan_linear(s, LinearPrecision::standard, false);
    EXPECT_EQ(plan.param_id, ParamId::n2048_q54);
    EXPECT_EQ(plan.geo.chunk_width, standard.geo.chunk_width);
    EXPECT_EQ(plan.geo.input_levels, standard.geo.input_levels);
    EXPECT_EQ(plan.call_rows(), s.rows);
    EXPECT_EQ(plan.geo.shape.rows, 2 * s.rows);
    EXPECT_GE(plan.companion_floor, standard.error_floor);
    // One upload (wider), and replies cheaper than two standard calls' (shared masks, narrower values).
    EXPECT_LT(plan.bytes_up(), 2 * standard.bytes_up());
    EXPECT_LT(plan.bytes_down(), 2 * standard.bytes_down());
    std::mt19937_64 rng(s.in + s.out);
    const auto w = random_w(std::size_t{s.out} * s.in, rng);
    const EncodedWeights weights(w, s.out, s.in);  // the default encoding only
    std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 7 == 0 ? 255 : static_cast<std::uint8_t>(rng());
    const auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), s, LinearPrecision::exact);
    EXPECT_EQ(upload.size(), plan.bytes_up());
    EXPECT_EQ(peek_linear_upload(upload).shape, s);
    const auto reply = linear_evaluate(upload, weights, fixture().keys, 2);
    EXPECT_EQ(reply.size(), plan.bytes_down());
    std::vector<std::int32_t> x32(x.begin(), x.end());
    const auto expect = clear::matmul(s.rows, s.in, s.out, x32.data(), w.data());
    EXPECT_EQ(fixture().client.decrypt(reply), expect);
    // measure_noise: each call row's standard row, then its companion row.
    const auto noise = fixture().client.measure_noise(reply, expect);
    ASSERT_EQ(noise.size(), std::size_t{2} * s.rows * s.out);
    double worst_standard = 0, worst_companion = 0;
    for (std::size_t i = 0; i < noise.size(); ++i)
      (plan.is_companion_row(static_cast<std::uint32_t>(i / s.out)) ? worst_companion : worst_standard) =
          std::max(plan.is_companion_row(static_cast<std::uint32_t>(i / s.out)) ? worst_companion : worst_standard,
                   std::abs(noise[i]));
    std::printf("%s: worst noise standard 2^%.1f (bound 2^%.1f), companion 2^%.1f (bound 2^%.1f)\n",
                describe(plan).c_str(), std::log2(worst_standard), std::log2(plan.noise.bound()),
                std::log2(worst_companion), std::log2(plan.companion_noise.bound()));
    EXPECT_LT(worst_standard, plan.noise.allowed);
    EXPECT_LT(worst_companion, plan.companion_noise.allowed);
  }
}

TEST(LinearProduct, ExactSmallShapes) {
  EXPECT_EQ(run_case({1, 1, 1}, LinearPrecision::exact, false, kRandom, 1), 0);
  EXPECT_EQ(run_case({1, 5, 3}, LinearPrecision::exact, true, kRandom, 2), 0);
  EXPECT_EQ(run_case({3, 100, 50}, LinearPrecision::exact, false, kRandom, 3), 0);
  EXPECT_EQ(run_case({7, 33, 129}, LinearPrecision::exact, true, kRandom, 4), 0);
}

TEST(LinearProduct, ExactExtremeAndZeroRows) {
  EXPECT_EQ(run_case({2, 300, 20}, LinearPrecision::exact, false, 255, 5, 127), 0);
  EXPECT_EQ(run_case({2, 300, 20}, LinearPrecision::exact, true, -128, 6, -128), 0);
  EXPECT_EQ(run_case({2, 300, 20}, LinearPrecision::exact, true, 127, 7, -128), 0);
  EXPECT_EQ(run_case({1, 300, 20}, LinearPrecision::exact, false, 0, 8), 0);
}

TEST(LinearProduct, DefaultWithinFloor) {
  run_case({1, 768, 64}, LinearPrecision::standard, false, kRandom, 9);
  run_case({1, 768, 64}, LinearPrecision::standard, false, 255, 10, -128);
  run_case({2, 1000, 300}, LinearPrecision::standard, true, kRandom, 11);
  run_case({1, 8192, 4}, LinearPrecision::standard, false, 255, 12, 127);
}

TEST(LinearProduct, ExactLargeInput) { EXPECT_EQ(run_case({1, 8192, 3}, LinearPrecision::exact, false, 255, 13, -128), 0); }

// One encoding serves every row count: the weights are encoded once, for the
// layer's resident layout, and calls of 1..64, 100 and 257 rows all compute
// exactly the integer product (exact) or stay within the floor (default).
// The encoded bytes equal the plan's model; a precision the weights were not
// encoded for is refused before any work.
TEST(LinearProduct, OneEncodingServesEveryRowCount) {
  for (const LinearPrecision prec : {LinearPrecision::exact, LinearPrecision::standard}) {
    const std::uint32_t in = prec == LinearPrecision::exact ? 40 : 100, out = prec == LinearPrecision::exact ? 24 : 8;
    std::mt19937_64 rng(60 + static_cast<int>(prec));
    const auto w = random_w(std::size_t{out} * in, rng);
    const LinearPrecision precisions[] = {prec};
    const EncodedWeights weights(w, out, in, precisions, 2);
    EXPECT_EQ(weights.encoded_bytes(), plan_linear({1, in, out}, prec, false).weight_bytes());
    // Every count for the default precision; a sample for exact (twice the rows).
    std::vector<std::uint32_t> counts{1, 3, 100, 257};
    if (prec == LinearPrecision::standard) {
      counts.clear();
      for (std::uint32_t t = 1; t <= 64; ++t) counts.push_back(t);
      counts.push_back(100);
      counts.push_back(257);
    }
    for (const std::uint32_t rows : counts) {
      const LinearShape s{rows, in, out};
      std::vector<std::uint8_t> x(std::size_t{rows} * in);
      for (auto& v : x) v = static_cast<std::uint8_t>(rng());
      const auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), s, prec);
      const LinearPlan plan = plan_linear(s, prec, false);
      ASSERT_EQ(upload.size(), plan.bytes_up());
      const auto y = fixture().client.decrypt(linear_evaluate(upload, weights, fixture().keys, 2));
      std::vector<std::int32_t> x32(x.begin(), x.end());
      const auto expect = clear::matmul(rows, in, out, x32.data(), w.data());
      std::int64_t worst = 0;
      for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(y[i] - expect[i]));
      EXPECT_LE(worst, plan.error_floor) << "rows " << rows << " " << describe(plan);
    }
  }
  std::mt19937_64 rng(62);
  const auto w = random_w(20 * 30, rng);
  // Exact calls ride on the standard encoding: one encoding serves both.
  const EncodedWeights standard_only(w, 20, 30);
  EXPECT_TRUE(standard_only.holds(LinearPrecision::exact));
  std::vector<std::uint8_t> x(30, 7);
  const auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), {1, 30, 20}, LinearPrecision::exact);
  std::vector<std::int32_t> x32(x.begin(), x.end());
  EXPECT_EQ(fixture().client.decrypt(linear_evaluate(upload, standard_only, fixture().keys, 1)),
            clear::matmul(1, 30, 20, x32.data(), w.data()));
  const LinearPrecision table[] = {LinearPrecision::mask_table};
  const EncodedWeights table_only(w, 20, 30, table);
  EXPECT_FALSE(table_only.holds(LinearPrecision::exact));
  try {
    (void)linear_evaluate(upload, table_only, fixture().keys, 1);
    ADD_FAILURE() << "served a precision the weights were not encoded for";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::precision_not_served) << e.what();
  }
}

// The layout does not depend on the row count (T_w = 1), and the reserved
// header field (formerly the planner objective) must be zero.
TEST(LinearProduct, PlansShareTheResidentLayout) {
  for (const LinearShape one : {LinearShape{1, 768, 2304}, LinearShape{1, 3072, 768}, LinearShape{1, 64, 512}}) {
    const LinearPlan p1 = plan_linear(one, LinearPrecision::standard, false);
    const LinearLayout layout = linear_resident_layout(one.in, one.out, LinearPrecision::standard);
    EXPECT_EQ(p1.geo.rows_per_ct, 1u);
    for (const std::uint32_t rows : {2u, 17u, 128u, 512u}) {
      const LinearPlan p = plan_linear({rows, one.in, one.out}, LinearPrecision::standard, false);
      EXPECT_EQ(p.geo.chunk_width, layout.chunk_width);
      EXPECT_EQ(p.geo.input_levels, layout.input_levels);
      EXPECT_EQ(p.param_id, layout.param_id);
      EXPECT_EQ(p.geo.row_groups, rows);
      EXPECT_EQ(p.body_bits, p1.body_bits);
      EXPECT_EQ(p.upload_bits, p1.upload_bits);
    }
  }
  std::mt19937_64 rng(51);
  const LinearShape s{3, 50, 40};
  const auto w = random_w(std::size_t{s.out} * s.in, rng);
  std::vector<std::uint8_t> x(std::size_t{s.rows} * s.in, 9);
  auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), s, LinearPrecision::standard);
  const EncodedWeights weights(w, s.out, s.in);
  // Byte 11 is reserved, byte 10 the weight privacy bits (at most 40; the
  // weights are held for 0 only: a plan of S = 1 with the upload's sizes
  // reaches the weights' check, precision_not_served; one with other sizes
  // stops at the header's, parameter_mismatch).
  for (const auto& [at, value, code] : {std::tuple{11, 1, ErrorCode::bad_message},
                                        std::tuple{10, 41, ErrorCode::bad_message},
                                        std::tuple{10, 1, ErrorCode::precision_not_served}}) {
    auto bad = upload;
    bad[at] = static_cast<std::uint8_t>(value);
    try {
      (void)linear_evaluate(bad, weights, fixture().keys, 1);
      ADD_FAILURE() << "accepted byte " << at << " = " << value;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  }
}

// A layer whose encoding passes kLinearLargeLayerBytes (an LM head) keeps
// only layouts at least kLinearLargeLayerMinFill full; smaller layers keep the
// 2/3 rule (GPT-2's 768 -> 2304 takes k_w = 1024, 75% full, half the upload of
// a full layout).
TEST(LinearProduct, LargeLayersTakeFullLayouts) {
  const auto fill = [](const LinearPlan& p) {
    return static_cast<double>(p.geo.shape.in) * p.geo.shape.out /
           (static_cast<double>(p.geo.weight_polys()) * p.geo.poly_degree);
  };
  const auto head = linear_plan_candidates({1, 768, 50257}, LinearPrecision::standard, false);
  ASSERT_FALSE(head.empty());
  for (const LinearPlan& p : head) {
    ASSERT_GT(p.weight_bytes(), kLinearLargeLayerBytes) << describe(p);
    EXPECT_GE(fill(p), kLinearLargeLayerMinFill) << describe(p);
  }
  const LinearPlan chosen = plan_linear({1, 768, 50257}, LinearPrecision::standard, false);
  EXPECT_LE(static_cast<double>(chosen.weight_bytes()) / (768.0 * 50257.0), 7.0 / kLinearLargeLayerMinFill)
      << describe(chosen);
  const LinearPlan medium = plan_linear({1, 768, 2304}, LinearPrecision::standard, false);
  EXPECT_LT(medium.weight_bytes(), kLinearLargeLayerBytes);
  EXPECT_LT(fill(medium), kLinearLargeLayerMinFill) << describe(medium);
  EXPECT_GE(fill(medium), kLinearMinWeightFill) << describe(medium);
}

// Replies with two or more packed ciphertexts send one mask per group of
// kLinearSharedMaskGroup (shared_mask.h): full groups, a smaller last group,
// a last group of one (alone under s), exact and default precision, several rows.
TEST(LinearProduct, SharedMaskRepliesGroupPackedCiphertexts) {
  std::set<std::size_t> last_sizes;
  for (const LinearShape s : {LinearShape{1, 768, 5000}, LinearShape{1, 96, 4500}, LinearShape{65, 30, 100},
                              LinearShape{1, 200, 10000}, LinearShape{1, 64, 8500}}) {
    const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
    ASSERT_TRUE(plan.shared_mask) << describe(plan);
    last_sizes.insert(plan.mask_group(plan.geo.packed_cts() - 1).size);
    LinearPlan unpaired = plan;
    unpaired.shared_mask = false;
    // One mask of N values at mask_bits per group instead of per packed ct.
    const std::size_t mask_bytes = (std::size_t{plan.geo.poly_degree} * plan.mask_bits + 7) / 8;
    const std::size_t groups = (plan.geo.packed_cts() + kLinearSharedMaskGroup - 1) / kLinearSharedMaskGroup;
    EXPECT_EQ(plan.mask_count(), groups);
    EXPECT_EQ(unpaired.bytes_down() - plan.bytes_down(), (plan.geo.packed_cts() - groups) * mask_bytes) << describe(plan);
    EXPECT_LE(run_case(s, LinearPrecision::standard, false, kRandom, 41), plan.error_floor);
  }
  EXPECT_EQ(run_case({1, 300, 3000}, LinearPrecision::exact, true, -128, 42, -128), 0);
  EXPECT_GE(last_sizes.size(), 2u) << "the shapes should end on groups of different sizes";
}

// Splits whose levels reach past the hoisted keys (2^j + 1 with j > 5): their
// elements are applied one key switch at a time, then hoisted (linear.cpp).
// One and two such levels, default and exact precision, extreme data.
TEST(LinearProduct, SequentialInputLevels) {
  for (const LinearShape s : {LinearShape{1, 300, 5000}, LinearShape{1, 768, 8192}}) {
    const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
    ASSERT_GT(plan.geo.sequential_levels(), 0) << describe(plan);
    EXPECT_EQ(plan.geo.hoisted_levels() + plan.geo.sequential_levels(), plan.geo.input_levels);
    EXPECT_LE(run_case(s, LinearPrecision::standard, false, kRandom, 61), plan.error_floor) << describe(plan);
  }
  const LinearPlan two = plan_linear({1, 300, 5000}, LinearPrecision::standard, false);
  EXPECT_EQ(two.geo.sequential_levels(), 2) << describe(two);
  EXPECT_LE(run_case({1, 300, 5000}, LinearPrecision::standard, false, 255, 62, -128), two.error_floor);
}

// Session keys whose shared-mask key serves groups of another size than the
// replies use are refused when they are loaded.
TEST(LinearProduct, SharedMaskKeyOfAnotherGroupSizeIsRefused) {
  LinearSessionKeys k = fixture().keys.get(ParamId::n2048_q54);
  const SecretKey s = SecretKey::generate(*k.context);
  k.shared_mask = make_shared_mask_key(*k.context, s, {SecretKey::generate(*k.context), SecretKey::generate(*k.context)},
                                       linear_decomposition_bits(ParamId::n2048_q54));
  LinearServerKeys keys;
  keys.insert(std::move(k));
  try {
    (void)LinearServerKeys::load(keys.save());
    ADD_FAILURE() << "loaded a shared-mask key for groups of two";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_message) << e.what();
  }
}

TEST(LinearProduct, SharedMaskPlanNeedsItsKey) {
  const LinearShape s{1, 768, 5000};
  const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
  ASSERT_TRUE(plan.shared_mask);
  LinearSessionKeys without = fixture().keys.get(plan.param_id);
  without.shared_mask.reset();
  LinearServerKeys keys;
  keys.insert(std::move(without));
  // The keys still round-trip without the shared-mask key...
  const LinearServerKeys loaded = LinearServerKeys::load(keys.save());
  EXPECT_FALSE(loaded.get(plan.param_id).shared_mask.has_value());
  // ...but a call that needs it is refused before any work.
  std::vector<std::uint8_t> x(s.in, 7);
  std::vector<std::int8_t> w(std::size_t{s.out} * s.in, 1);
  const auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), s);
  try {
    (void)linear_evaluate(upload, EncodedWeights(w, s.out, s.in), loaded, 1);
    ADD_FAILURE() << "evaluated a shared-mask plan without the key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_galois_key) << e.what();
  }
}

// Sub-body plans (n_w = 1) send one body value per input: the upload is
// about u bits per input, not N u per chunk.
TEST(LinearProduct, SubBodyUploadCarriesOnlyInputs) {
  const LinearShape s{1, 768, 4};
  const LinearPlan plan = plan_linear(s, LinearPrecision::standard, false);
  ASSERT_TRUE(plan.geo.sub_body()) << describe(plan);
  std::size_t expect = kLinearHeaderBytes;
  for (std::uint32_t c = 0; c < plan.geo.chunks; ++c) {
    const std::size_t values = std::min<std::size_t>(plan.geo.chunk_width, 768 - std::size_t{c} * plan.geo.chunk_width);
    expect += 32 + (values * static_cast<std::size_t>(plan.upload_bits) + 7) / 8;
  }
  EXPECT_EQ(plan.bytes_up(), expect);
  EXPECT_LE(run_case(s, LinearPrecision::standard, false, kRandom, 31), plan.error_floor);
  EXPECT_EQ(run_case(s, LinearPrecision::exact, false, 255, 32, -128), 0);
}

TEST(LinearProduct, ManyRowsAndOutputs) {
  run_case({64, 24, 40}, LinearPrecision::standard, false, kRandom, 14);
  run_case({1, 2, 2500}, LinearPrecision::exact, true, kRandom, 15);
}

class LinearHostile : public ::testing::Test {
 protected:
  LinearShape shape{2, 50, 30};
  std::vector<std::uint8_t> x = std::vector<std::uint8_t>(100, 7);
  std::vector<std::int8_t> w = std::vector<std::int8_t>(1500, 3);
  EncodedWeights weights{w, 30, 50};
  std::vector<std::uint8_t> upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), shape);

  void expect_code(const std::vector<std::uint8_t>& msg, ErrorCode code) {
    try {
      (void)linear_evaluate(msg, weights, fixture().keys);
      ADD_FAILURE() << "accepted a hostile upload";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  }
};

TEST_F(LinearHostile, Truncated) {
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{47}, upload.size() - 1}) {
    std::vector<std::uint8_t> m(upload.begin(), upload.begin() + cut);
    expect_code(m, ErrorCode::truncated);
  }
}
TEST_F(LinearHostile, BadMagicVersionTrailing) {
  auto m = upload;
  m[0] = 'X';
  expect_code(m, ErrorCode::bad_magic);
  m = upload;
  m[4] = static_cast<std::uint8_t>(kLinearFormatVersion + 1);
  expect_code(m, ErrorCode::bad_version);
  m = upload;
  m.push_back(0);
  expect_code(m, ErrorCode::trailing_bytes);
}
TEST_F(LinearHostile, WrongParameterIdAndLayout) {
  auto m = upload;
  m[8] = 77;
  expect_code(m, ErrorCode::unknown_parameter_id);
  m = upload;
  m[8] = 2;  // another real set
  expect_code(m, ErrorCode::parameter_mismatch);
  m = upload;
  m[24] ^= 1;  // k_w
  expect_code(m, ErrorCode::parameter_mismatch);
  m = upload;
  m[32] += 1;  // upload width
  expect_code(m, ErrorCode::parameter_mismatch);
}
TEST_F(LinearHostile, WrongShape) {
  auto m = upload;
  m[16] = 51;  // k = 51: weights are 30 x 50
  try {
    (void)linear_evaluate(m, weights, fixture().keys);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_TRUE(e.code() == ErrorCode::shape_mismatch || e.code() == ErrorCode::parameter_mismatch) << e.what();
  }
  m = upload;
  m[12] = 0;  // T = 0
  expect_code(m, ErrorCode::shape_mismatch);
  m = upload;
  m[15] = 0x7f;  // T huge
  expect_code(m, ErrorCode::shape_mismatch);
}
TEST_F(LinearHostile, ReplyChecks) {
  const auto reply = linear_evaluate(upload, weights, fixture().keys);
  auto m = reply;
  m.pop_back();
  EXPECT_THROW((void)fixture().client.decrypt(m), Error);
  m = reply;
  m[0] = 'Z';
  EXPECT_THROW((void)fixture().client.decrypt(m), Error);
  EXPECT_THROW((void)fixture().client.decrypt(upload), Error);  // an upload is not a reply
}
TEST_F(LinearHostile, KeysRoundTripAndDamage) {
  const auto bytes = fixture().keys.save();
  const LinearServerKeys loaded = LinearServerKeys::load(bytes);
  const auto reply = linear_evaluate(upload, weights, loaded);
  const auto y = fixture().client.decrypt(reply);
  EXPECT_LE(std::abs(y[0] - 7 * 3 * 50), plan_linear(shape, LinearPrecision::standard, false).error_floor);
  auto m = bytes;
  m.resize(m.size() / 2);
  EXPECT_THROW((void)LinearServerKeys::load(m), Error);
  m = bytes;
  m[0] = 0;
  EXPECT_THROW((void)LinearServerKeys::load(m), Error);
  LinearServerKeys empty;
  try {
    (void)linear_evaluate(upload, weights, empty);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_galois_key);
  }
}

}  // namespace
}  // namespace fhellm::he

namespace fhellm::he {
namespace {

TEST(LinearProduct, ConcurrentSessionsShareWeights) {
  // Two sessions (own keys) call the same EncodedWeights at the same time.
  const LinearShape shape{3, 40, 70};
  std::mt19937_64 rng(21);
  const auto w = random_w(std::size_t{shape.out} * shape.in, rng);
  const LinearPrecision exact[] = {LinearPrecision::exact};
  const EncodedWeights weights(w, shape.out, shape.in, exact);
  std::vector<std::int32_t> x32(std::size_t{shape.rows} * shape.in);
  std::vector<std::uint8_t> x(x32.size());
  for (std::size_t i = 0; i < x.size(); ++i) x32[i] = x[i] = static_cast<std::uint8_t>(rng());
  const auto expect = clear::matmul(shape.rows, shape.in, shape.out, x32.data(), w.data());
  auto session = [&](int id, bool* ok) {
    const LinearClient client({ParamId::n2048_q54});
    const LinearServerKeys keys = client.server_keys();
    bool good = true;
    for (int rep = 0; rep < 3; ++rep) {
      const auto reply = linear_evaluate(client.encrypt(std::span<const std::uint8_t>(x), shape, LinearPrecision::exact),
                                         weights, keys, 1 + id % 2);
      good = good && client.decrypt(reply) == expect;
    }
    *ok = good;
  };
  bool ok1 = false, ok2 = false;
  std::thread t1(session, 0, &ok1), t2(session, 1, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
}

TEST(LinearProduct, SessionKeysFitTheBudget) {
  // One upload of keys per session: at most 9 MiB for both parameter sets
  // (the embedding lookup's square key and two more sequential keys
  // included; 8 MiB until the input-side keys took a 6-bit gadget, 10
  // digits instead of 8: +0.86 MB for 16 KB less per Llama-3.2-1B token;
  // the composed packing keys of S = 0 plans add 0.46 MB, the composed
  // input-side and sequential keys, 9 and 11 digits instead of 10 and 12,
  // take 0.51 MB off: docs/linear.md section 4).
  const std::size_t bytes = fixture().keys.save().size();
  std::printf("[keys] session keys: %zu bytes\n", bytes);
  EXPECT_LE(bytes, std::size_t{9} << 20);
}

TEST(LinearProduct, ArgumentChecks) {
  const std::vector<std::int8_t> w(6, 1);
  EXPECT_THROW(EncodedWeights(w, 2, 4), Error);   // size mismatch
  EXPECT_THROW(EncodedWeights(w, 0, 6), Error);   // empty shape
  const EncodedWeights weights(w, 2, 3);
  const std::vector<std::uint8_t> x(3, 1);
  EXPECT_THROW((void)fixture().client.encrypt(std::span<const std::uint8_t>(x), {2, 3, 2}), Error);
  // An upload for k = 3, n = 5 against 2 x 3 weights: shape_mismatch.
  const auto upload = fixture().client.encrypt(std::span<const std::uint8_t>(x), {1, 3, 5});
  try {
    (void)linear_evaluate(upload, weights, fixture().keys);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::shape_mismatch);
  }
  // A client without the reply's parameter set cannot decrypt it.
  const LinearClient other({ParamId::n4096_q108});
  const auto good = fixture().client.encrypt(std::span<const std::uint8_t>(x), {1, 3, 2});
  EXPECT_THROW((void)other.decrypt(linear_evaluate(good, weights, fixture().keys)), Error);
}

}  // namespace
}  // namespace fhellm::he

namespace fhellm::he {
namespace {

// Eight sessions at once, each with its own keys and row counts, two threads
// per call, on shared weights: every result within the floor.
TEST(LinearProduct, EightConcurrentSessionsOfDifferentRowCounts) {
  const std::uint32_t in = 64, out = 192;
  std::mt19937_64 rng(23);
  const auto w = random_w(std::size_t{out} * in, rng);
  const EncodedWeights weights(w, out, in);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < 8; ++id) {
    threads.emplace_back([&, id] {
      const LinearClient client({ParamId::n2048_q54});
      const LinearServerKeys keys = client.server_keys();
      std::mt19937_64 local(100 + id);
      for (int rep = 0; rep < 4; ++rep) {
        const LinearShape s{static_cast<std::uint32_t>(1 + (id + rep) % 3), in, out};
        std::vector<std::uint8_t> x(std::size_t{s.rows} * in);
        for (auto& v : x) v = static_cast<std::uint8_t>(local());
        const auto y = client.decrypt(linear_evaluate(client.encrypt(std::span<const std::uint8_t>(x), s), weights, keys, 2));
        std::vector<std::int32_t> x32(x.begin(), x.end());
        const auto expect = clear::matmul(s.rows, in, out, x32.data(), w.data());
        const auto floor = plan_linear(s, LinearPrecision::standard, false).error_floor;
        for (std::size_t i = 0; i < y.size(); ++i)
          if (std::abs(y[i] - expect[i]) > floor) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace fhellm::he
