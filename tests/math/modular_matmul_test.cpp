// The online mode's clear product: every kernel (AVX-512 VNNI, AVX2, scalar)
// equals the int64 reference on random shapes, moduli up to 2^30, the
// largest residues against -128 everywhere, and output ranges.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/modular_matmul.h"

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
    fn(std::string(modular_matmul_kernel_name()));
  }
  set_simd_enabled(true);
  set_avx512_enabled(true);
}

struct Case {
  std::size_t rows, k, n;
  std::uint64_t p;
};

void check_case(const Case& c, std::uint64_t seed, bool extreme) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint64_t> vd(0, c.p - 1);
  std::uniform_int_distribution<int> wd(-128, 127);
  std::vector<std::uint32_t> v(c.rows * c.k);
  std::vector<std::int8_t> w(c.n * c.k);
  for (auto& x : v) x = static_cast<std::uint32_t>(extreme ? c.p - 1 : vd(rng));
  for (auto& x : w) x = static_cast<std::int8_t>(extreme ? -128 : wd(rng));
  std::vector<std::uint32_t> want(c.rows * c.n);
  modular_matmul_reference(v.data(), c.rows, c.k, w.data(), c.n, c.p, want.data());
  // The reference itself, against a plain sum.
  for (std::size_t t = 0; t < c.rows; ++t) {
    __int128 s = 0;
    for (std::size_t i = 0; i < c.k; ++i) s += static_cast<__int128>(v[t * c.k + i]) * w[i];
    const auto m = static_cast<__int128>(c.p);
    ASSERT_EQ(want[t * c.n], static_cast<std::uint32_t>(((s % m) + m) % m));
  }
  at_every_level([&](const std::string& kernel) {
    std::vector<std::uint32_t> got(c.rows * c.n, 0xFFFFFFFFu);
    modular_matmul(v.data(), c.rows, c.k, w.data(), c.n, c.p, got.data());
    EXPECT_EQ(got, want) << kernel << " rows " << c.rows << " k " << c.k << " n " << c.n << " p " << c.p;
  });
}

TEST(ModularMatmul, KernelsEqualTheReference) {
  const Case cases[] = {{1, 1, 1, 2},        {1, 15, 3, 50143232},   {3, 16, 5, 1000003},
                        {5, 17, 7, 200556544}, {4, 63, 9, 1u << 30},  {9, 64, 4, 534806528},
                        {2, 65, 33, 97},      {1, 768, 40, 50143232}, {6, 4097, 3, 1u << 30},
                        {1, 8192, 5, 534806528}};
  std::uint64_t seed = 1;
  for (const Case& c : cases) check_case(c, seed++, false);
}

TEST(ModularMatmul, LargestResiduesAgainstMinus128) {
  check_case({5, 8192, 3, 1u << 30}, 7, true);
  check_case({1, 3072, 2, 200556544}, 8, true);
}

TEST(ModularMatmul, OutputRangeWritesOnlyItsColumns) {
  const std::size_t rows = 5, k = 100, n = 30;
  const std::uint64_t p = 50143232;
  std::mt19937_64 rng(3);
  std::vector<std::uint32_t> v(rows * k);
  std::vector<std::int8_t> w(n * k);
  for (auto& x : v) x = static_cast<std::uint32_t>(rng() % p);
  for (auto& x : w) x = static_cast<std::int8_t>(rng());
  std::vector<std::uint32_t> want(rows * n);
  modular_matmul_reference(v.data(), rows, k, w.data(), n, p, want.data());
  at_every_level([&](const std::string& kernel) {
    std::vector<std::uint32_t> got(rows * n, 7);
    modular_matmul_range(v.data(), rows, k, w.data(), n, 10, 21, p, got.data());
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t j = 0; j < n; ++j)
        EXPECT_EQ(got[t * n + j], j >= 10 && j < 21 ? want[t * n + j] : 7u) << kernel;
  });
}

TEST(ModularMatmul, RefusesOutOfRangeArguments) {
  std::vector<std::uint32_t> v(9000, 0), y(9000);
  std::vector<std::int8_t> w(9000, 0);
  EXPECT_THROW(modular_matmul(v.data(), 1, 0, w.data(), 1, 7, y.data()), Error);
  EXPECT_THROW(modular_matmul(v.data(), 1, 8193, w.data(), 1, 7, y.data()), Error);
  EXPECT_THROW(modular_matmul(v.data(), 1, 4, w.data(), 1, 1, y.data()), Error);
  EXPECT_THROW(modular_matmul(v.data(), 1, 4, w.data(), 1, (1ull << 30) + 1, y.data()), Error);
  EXPECT_THROW(modular_matmul_range(v.data(), 1, 4, w.data(), 3, 2, 4, 7, y.data()), Error);
}

}  // namespace
}  // namespace fhellm::math
