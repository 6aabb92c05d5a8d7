// The online mode's offline products (docs/online.md): rows of uniform
// residues r mod t, encrypted with the mask precisions, decrypt to r W^T mod t
// exactly, for the power-of-two and the odd factor of the online modulus, on
// the weights' standard encoding; and the modulus itself.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/linear_reference.h"

namespace fhellm::he {
namespace {

const LinearClient& client() {
  static const LinearClient c{std::vector<ParamId>{ParamId::n2048_q54}};
  return c;
}
const LinearServerKeys& keys() {
  static const LinearServerKeys k = client().server_keys();
  return k;
}

std::int64_t mod(std::int64_t v, std::uint64_t t) {
  const auto m = static_cast<std::int64_t>(t);
  return ((v % m) + m) % m;
}

// r W^T mod t for residues drawn uniformly (fill < 0) or all equal to `fill`,
// weights uniform (weight_fill == 0) or all `weight_fill`; returns the number
// of wrong residues.
std::size_t wrong_residues(LinearShape s, LinearPrecision precision, std::int64_t fill, int weight_fill,
                           std::uint64_t seed, int privacy_bits = 0) {
  std::mt19937_64 rng(seed);
  const LinearPlan plan = plan_linear(s, precision, false, privacy_bits);
  const std::uint64_t t = plan.plain_modulus;
  std::uniform_int_distribution<std::uint32_t> rd(0, static_cast<std::uint32_t>(t - 1));
  std::uniform_int_distribution<int> wd(-128, 127);
  std::vector<std::uint32_t> r(std::size_t{s.rows} * s.in);
  for (auto& v : r) v = fill < 0 ? rd(rng) : static_cast<std::uint32_t>(fill);
  std::vector<std::int8_t> w(std::size_t{s.out} * s.in);
  for (auto& v : w) v = static_cast<std::int8_t>(weight_fill != 0 ? weight_fill : wd(rng));
  const LinearPrecision standard[] = {LinearPrecision::standard};
  const EncodedWeights weights(w, s.out, s.in, standard, 1, privacy_bits);
  const auto upload = client().encrypt_mask(r, s, precision, privacy_bits);
  EXPECT_EQ(upload.size(), plan.bytes_up());
  const auto y = client().decrypt(linear_evaluate(upload, weights, keys(), 2));
  std::vector<std::int32_t> r32(r.begin(), r.end());
  const auto expect = clear::matmul(s.rows, s.in, s.out, r32.data(), w.data());
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    EXPECT_LE(std::abs(2 * y[i]), static_cast<std::int64_t>(t)) << "not centred mod " << t;
    if (mod(y[i], t) != mod(expect[i], t)) ++wrong;
  }
  return wrong;
}

TEST(OnlineModulus, CoversTheRangeWithCoprimeFactors) {
  for (std::uint32_t k : {1u, 2u, 64u, 300u, 768u, 2048u, 3072u, 8192u}) {
    const OnlineModulus m = linear_online_modulus(k);
    const std::uint64_t span = 2 * std::uint64_t{k} * 128 * 127 + 1;  // centred rows, symmetric weights
    EXPECT_GE(m.p, span) << k;
    EXPECT_LT(m.p, span + 2 * m.pow2 + 2) << k;  // tight: the odd factor is the smallest that fits
    EXPECT_EQ(m.p, m.pow2 * m.odd);
    EXPECT_EQ(m.pow2 & (m.pow2 - 1), 0u);
    EXPECT_EQ(m.odd % 2, 1u);
    EXPECT_EQ(std::gcd(m.pow2, m.odd), 1u);
    EXPECT_LT(m.p - 1, std::uint64_t{1} << m.bits);
    EXPECT_GE(m.p - 1, std::uint64_t{1} << (m.bits - 1));
  }
  EXPECT_THROW(linear_online_modulus(0), Error);
  EXPECT_THROW(linear_online_modulus(kLinearMaxIn + 1), Error);
}

// Weight privacy (docs/linear.md section 6) for the mask products: the
// encoding's rounding eps W is weight-dependent and known to the client, so
// it is one of the terms sigma_H the flood hides; the products stay exact.
TEST(LinearMask, WeightPrivacyFloodsTheMasksAndTheyStayExact) {
  const LinearShape s{2, 300, 200};
  for (LinearPrecision p : {LinearPrecision::mask_pow2, LinearPrecision::mask_odd}) {
    for (int bits : {0, 3}) {
      const LinearPlan plan = plan_linear(s, p, false, bits);
      ASSERT_EQ(plan.param_id, ParamId::n2048_q54) << "the test's keys";
      EXPECT_EQ(plan.privacy_bits, bits);
      EXPECT_DOUBLE_EQ(plan.noise.mask_rounding, 300.0 * 128 * 128 / 4);
      const double hidden2 = plan.noise.upload + plan.noise.packing + plan.noise.input_side + plan.noise.mask_rounding;
      EXPECT_DOUBLE_EQ(plan.hidden_std() * plan.hidden_std(), hidden2);
      EXPECT_NEAR(plan.flood_std, std::exp2(bits) * plan.hidden_std(), 1e-9 * plan.flood_std);
      EXPECT_EQ(wrong_residues(s, p, -1, 0, 11 + bits, bits), 0u) << linear_precision_name(p) << " S=" << bits;
      EXPECT_EQ(wrong_residues(s, p, static_cast<std::int64_t>(plan.plain_modulus - 1), -128, 13, bits), 0u)
          << linear_precision_name(p) << " S=" << bits << ", largest residues";
    }
  }
  EXPECT_EQ(plan_linear(s, LinearPrecision::standard, false).noise.mask_rounding, 0.0);
}

TEST(LinearMask, ProductsAreExactModTheirModulus) {
  for (LinearPrecision p : {LinearPrecision::mask_pow2, LinearPrecision::mask_odd}) {
    EXPECT_EQ(wrong_residues({3, 300, 200}, p, -1, 0, 1), 0u) << linear_precision_name(p);
    EXPECT_EQ(wrong_residues({1, 768, 64}, p, -1, 0, 2), 0u) << linear_precision_name(p);
  }
}

TEST(LinearMask, ExtremeResiduesAndWeights) {
  // The largest residue against -128 everywhere: the largest phase the
  // rounding term and the noise can reach together; and zero rows.
  for (LinearPrecision p : {LinearPrecision::mask_pow2, LinearPrecision::mask_odd}) {
    const LinearShape s{2, 3072, 40};
    const std::int64_t top = static_cast<std::int64_t>(plan_linear(s, p, false).plain_modulus) - 1;
    EXPECT_EQ(wrong_residues(s, p, top, -128, 3), 0u) << linear_precision_name(p);
    EXPECT_EQ(wrong_residues({1, 64, 8}, p, 0, 0, 4), 0u) << linear_precision_name(p);
  }
}

TEST(LinearMask, UsesTheStandardLayoutAndExactFloor) {
  const LinearShape s{1, 768, 2304};
  const LinearPlan standard = plan_linear(s, LinearPrecision::standard, false);
  for (LinearPrecision p : {LinearPrecision::mask_pow2, LinearPrecision::mask_odd}) {
    const LinearPlan plan = plan_linear(s, p, false);
    EXPECT_EQ(plan.param_id, standard.param_id);
    EXPECT_EQ(plan.geo.chunk_width, standard.geo.chunk_width);
    EXPECT_EQ(plan.geo.input_levels, standard.geo.input_levels);
    EXPECT_EQ(plan.error_floor, 0);
    EXPECT_LE(plan.noise.bound(), plan.noise.allowed);
    EXPECT_EQ(linear_encoding_precision(p), LinearPrecision::standard);
  }
}

TEST(LinearMask, RefusedInputs) {
  const LinearShape s{1, 16, 4};
  const std::uint64_t t = plan_linear(s, LinearPrecision::mask_odd, false).plain_modulus;
  std::vector<std::uint32_t> r(16, static_cast<std::uint32_t>(t));  // one past the largest residue
  EXPECT_THROW(client().encrypt_mask(r, s, LinearPrecision::mask_odd), Error);
  r.assign(16, 0);
  EXPECT_THROW(client().encrypt_mask(r, s, LinearPrecision::standard), Error);
  EXPECT_THROW(client().encrypt_mask(std::span<const std::uint32_t>(r.data(), 15), s, LinearPrecision::mask_odd),
               Error);
  // A mask upload that claims signed rows is refused by the server's parser.
  auto upload = client().encrypt_mask(r, s, LinearPrecision::mask_odd);
  upload[7] = 1;
  try {
    (void)peek_linear_upload(upload);
    ADD_FAILURE() << "a signed mask upload was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_message);
  }
  // A server that does not hold the standard encoding (here only a table's
  // mask encoding) refuses mask rows.
  const LinearPrecision table[] = {LinearPrecision::mask_table};
  const std::vector<std::int8_t> w(64, 1);
  const EncodedWeights weights(w, 4, 16, table);
  upload[7] = 0;
  try {
    (void)linear_evaluate(upload, weights, keys(), 1);
    ADD_FAILURE() << "mask rows were evaluated without the standard encoding";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::precision_not_served);
  }
}

}  // namespace
}  // namespace fhellm::he
