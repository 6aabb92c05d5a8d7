// The online mode's clear token-table lookup: every kernel (AVX-512 VNNI,
// AVX2, scalar) equals the int64 reference on random shapes and column
// ranges, the extreme values agree with their closed form, a one-hot v
// returns its table row, and arguments out of range are refused.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/masked_table_sum.h"

namespace fhellm::math {
namespace {

struct SimdLevel {
  bool simd, avx512;
};

// Runs fn at each kernel level this CPU has, then restores the defaults.
template <typename Fn>
void at_every_level(Fn fn) {
  for (SimdLevel l : {SimdLevel{true, true}, SimdLevel{true, false}, SimdLevel{false, false}}) {
    set_simd_enabled(l.simd);
    set_avx512_enabled(l.avx512);
    fn(std::string(masked_table_sum_kernel_name()));
  }
  set_simd_enabled(true);
  set_avx512_enabled(true);
}

struct Shape {
  std::size_t rows, table_rows, width;
};

struct Inputs {
  std::vector<std::uint8_t> v;
  std::vector<std::int8_t> table;
};

Inputs random_inputs(const Shape& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Inputs in{std::vector<std::uint8_t>(s.rows * s.table_rows), std::vector<std::int8_t>(s.table_rows * s.width)};
  for (auto& x : in.v) x = static_cast<std::uint8_t>(rng());
  for (auto& x : in.table) x = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  return in;
}

// Every kernel over all columns, and over [d_begin, d_end) with the other
// columns left as they were.
void expect_kernels_match(const Shape& s, const Inputs& in, std::size_t d_begin, std::size_t d_end) {
  std::vector<std::uint8_t> want(s.rows * s.width);
  masked_table_sum_reference(in.v.data(), s.rows, in.table.data(), s.table_rows, s.width, want.data());
  at_every_level([&](const std::string& kernel) {
    const std::string where = kernel + " rows " + std::to_string(s.rows) + " table_rows " +
                              std::to_string(s.table_rows) + " width " + std::to_string(s.width);
    std::vector<std::uint8_t> got(s.rows * s.width, 0xA5);
    masked_table_sum(in.v.data(), s.rows, in.table.data(), s.table_rows, s.width, got.data());
    EXPECT_EQ(got, want) << where;
    std::fill(got.begin(), got.end(), 0xA5);
    masked_table_sum_range(in.v.data(), s.rows, in.table.data(), s.table_rows, s.width, d_begin, d_end, got.data());
    for (std::size_t t = 0; t < s.rows; ++t)
      for (std::size_t d = 0; d < s.width; ++d) {
        const std::uint8_t expected = d >= d_begin && d < d_end ? want[t * s.width + d] : 0xA5;
        ASSERT_EQ(got[t * s.width + d], expected) << where << " range [" << d_begin << ", " << d_end << ") t " << t
                                                  << " d " << d;
      }
  });
}

TEST(MaskedTableSum, KernelsEqualTheReferenceOnSmallTables) {
  std::uint64_t seed = 1;
  for (std::size_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 17})
    for (std::size_t table_rows : {1, 2, 63})
      for (std::size_t width : {1, 7, 31, 64, 65, 768, 1000}) {
        const Shape s{rows, table_rows, width};
        expect_kernels_match(s, random_inputs(s, seed++), width / 3, width - width / 4);
      }
}

// More table rows than the kernels' spans (with rows enough for several tiles
// and the widths of several column blocks), and more than 2^16 (int16 sums
// wrap many times) for the swept rows (1 to 3) and the packed ones.
TEST(MaskedTableSum, KernelsEqualTheReferenceOnLargeTables) {
  const Shape shapes[] = {{1, 65537, 65}, {2, 20011, 100}, {3, 65537, 40}, {4, 65537, 33}, {17, 10007, 7},
                          {64, 1031, 65}, {6, 300, 1000},  {11, 1001, 300}, {4, 515, 768}, {5, 70, 4200},
                          {65, 37, 300},  {1, 9, 8192}};
  std::uint64_t seed = 100;
  for (const Shape& s : shapes) expect_kernels_match(s, random_inputs(s, seed++), 1, s.width);
}

// v = 255 everywhere against +-127 everywhere: every output is
// 255 * (+-127) * table_rows mod 256.
TEST(MaskedTableSum, ExtremeValuesMatchTheirClosedForm) {
  for (int value : {-127, 127})
    for (const Shape& s : {Shape{7, 65537, 8}, Shape{1, 262144, 9}, Shape{2, 1, 8192}}) {
      const Inputs in{std::vector<std::uint8_t>(s.rows * s.table_rows, 255),
                      std::vector<std::int8_t>(s.table_rows * s.width, static_cast<std::int8_t>(value))};
      const long long sum = 255LL * value * static_cast<long long>(s.table_rows);
      const auto closed = static_cast<std::uint8_t>(((sum % 256) + 256) % 256);
      std::vector<std::uint8_t> want(s.rows * s.width);
      masked_table_sum_reference(in.v.data(), s.rows, in.table.data(), s.table_rows, s.width, want.data());
      EXPECT_EQ(want, std::vector<std::uint8_t>(want.size(), closed)) << "reference, value " << value;
      expect_kernels_match(s, in, 0, s.width);
    }
}

// A one-hot v selects its table row (mod 256), for every row of a tile and
// every kernel: the clear lookup without a mask.
TEST(MaskedTableSum, OneHotReturnsTheTableRow) {
  const Shape s{6, 1001, 100};
  const Inputs random = random_inputs(s, 7);
  const std::size_t ids[] = {0, 1000, 3, 500, 999, 4};
  std::vector<std::uint8_t> v(s.rows * s.table_rows, 0);
  for (std::size_t t = 0; t < s.rows; ++t) v[t * s.table_rows + ids[t]] = 1;
  at_every_level([&](const std::string& kernel) {
    std::vector<std::uint8_t> y(s.rows * s.width);
    masked_table_sum(v.data(), s.rows, random.table.data(), s.table_rows, s.width, y.data());
    for (std::size_t t = 0; t < s.rows; ++t)
      for (std::size_t d = 0; d < s.width; ++d)
        ASSERT_EQ(y[t * s.width + d], static_cast<std::uint8_t>(random.table[ids[t] * s.width + d]))
            << kernel << " t " << t << " d " << d;
  });
}

TEST(MaskedTableSum, RefusesArgumentsOutOfRange) {
  std::vector<std::uint8_t> v(600, 0), y(10000);
  std::vector<std::int8_t> table(10000, 0);
  auto refused = [&](std::size_t rows, std::size_t table_rows, std::size_t width, std::size_t d_begin,
                     std::size_t d_end) {
    try {
      masked_table_sum_range(v.data(), rows, table.data(), table_rows, width, d_begin, d_end, y.data());
    } catch (const Error& e) {
      return e.code() == ErrorCode::invalid_argument;
    }
    return false;
  };
  EXPECT_TRUE(refused(0, 1, 1, 0, 1));
  EXPECT_TRUE(refused(513, 1, 1, 0, 1));
  EXPECT_TRUE(refused(1, 0, 1, 0, 1));
  EXPECT_TRUE(refused(1, (std::size_t{1} << 18) + 1, 1, 0, 1));
  EXPECT_TRUE(refused(1, 1, 0, 0, 0));
  EXPECT_TRUE(refused(1, 1, 8193, 0, 1));
  EXPECT_TRUE(refused(1, 1, 10, 3, 11));
  EXPECT_TRUE(refused(1, 1, 10, 5, 4));
  EXPECT_FALSE(refused(1, 1, 10, 4, 4));  // an empty range is a no-op
  EXPECT_THROW(masked_table_sum(nullptr, 1, table.data(), 1, 1, y.data()), Error);
  EXPECT_THROW(masked_table_sum(v.data(), 1, table.data(), 1, 1, nullptr), Error);
  EXPECT_THROW(masked_table_sum_reference(v.data(), 1, table.data(), 0, 1, y.data()), Error);
}

}  // namespace
}  // namespace fhellm::math
