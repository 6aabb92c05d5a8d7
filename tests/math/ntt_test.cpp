#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/ntt.h"
#include "math/poly_arith.h"
#include "math/primes.h"

using namespace fhellm::math;

namespace {

std::vector<std::uint64_t> random_poly(std::size_t n, std::uint64_t q, std::mt19937_64& rng) {
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = rng() % q;
  return v;
}

struct NttCase {
  std::size_t n;
  int bits;
};

class NttTest : public ::testing::TestWithParam<NttCase> {};

}  // namespace

TEST_P(NttTest, MatchesSchoolbookNegacyclicProduct) {
  const auto [n, bits] = GetParam();
  const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(n + bits);
  auto a = random_poly(n, q.value(), rng), b = random_poly(n, q.value(), rng);
  std::vector<std::uint64_t> expect;
  if (n <= 4096) {
    expect = negacyclic_multiply_schoolbook(a, b, q);
  } else {
    // Keep the O(N^2) oracle fast at large N: b gets 64 non-zero terms
    // (including the top one, which exercises the X^N = -1 wrap).
    std::vector<std::uint64_t> sparse(n, 0);
    for (int k = 0; k < 63; ++k) sparse[rng() % n] = b[k];
    sparse[n - 1] = b[63];
    b = sparse;
    expect.assign(n, 0);
    for (std::size_t j = 0; j < n; ++j) {
      if (b[j] == 0) continue;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t p = q.mul(a[i], b[j]);
        if (i + j < n) expect[i + j] = q.add(expect[i + j], p);
        else expect[i + j - n] = q.sub(expect[i + j - n], p);
      }
    }
  }
  ntt_forward(a.data(), tables);
  ntt_forward(b.data(), tables);
  multiply_mod(a.data(), b.data(), a.data(), n, q);
  ntt_inverse(a.data(), tables);
  EXPECT_EQ(a, expect);
}

TEST_P(NttTest, RoundTripAndExtremes) {
  const auto [n, bits] = GetParam();
  const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(n * 3 + bits);
  for (int pattern = 0; pattern < 3; ++pattern) {
    std::vector<std::uint64_t> a(n);
    if (pattern == 0) a = random_poly(n, q.value(), rng);
    if (pattern == 1) std::fill(a.begin(), a.end(), q.value() - 1);
    if (pattern == 2) a[0] = 1;  // delta: transform is all ones
    auto b = a;
    ntt_forward(b.data(), tables);
    for (auto v : b) ASSERT_LT(v, q.value());
    if (pattern == 2) {
      for (auto v : b) ASSERT_EQ(v, 1u);
    }
    ntt_inverse(b.data(), tables);
    EXPECT_EQ(a, b);
  }
}

TEST_P(NttTest, Avx2MatchesReference) {
  const auto [n, bits] = GetParam();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "CPU has no AVX2";
  const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(n * 7 + bits);
  for (int it = 0; it < 3; ++it) {
    auto a = random_poly(n, q.value(), rng);
    if (it == 2) std::fill(a.begin(), a.end(), q.value() - 1);
    auto b = a;
    ntt_forward_reference(a.data(), tables);
    ntt_forward_avx2(b.data(), tables);
    ASSERT_EQ(a, b);
    ntt_inverse_reference(a.data(), tables);
    ntt_inverse_avx2(b.data(), tables);
    ASSERT_EQ(a, b);
  }
}

// The 32-bit AVX2 kernels (q < 2^30, N >= 16): primes of 17 to 30 bits, the
// largest ones stressing the 4q < 2^32 lazy range; random, all q - 1 and
// delta inputs.
TEST(Ntt, Avx2U32MatchesReference) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "CPU has no AVX2";
  for (std::size_t n : {16u, 32u, 64u, 256u, 2048u, 4096u, 16384u}) {
    for (int bits : {17, 27, 29, 30}) {
      const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
      ASSERT_LT(q.value(), std::uint64_t{1} << 30);
      const NttTables tables(n, q);
      ASSERT_NE(tables.tables32(), nullptr);
      std::mt19937_64 rng(n * 17 + bits);
      for (int it = 0; it < 3; ++it) {
        auto a = random_poly(n, q.value(), rng);
        if (it == 1) std::fill(a.begin(), a.end(), q.value() - 1);
        if (it == 2) {
          std::fill(a.begin(), a.end(), 0);
          a[n - 1] = 1;
        }
        std::vector<std::uint32_t> b(a.begin(), a.end());
        ntt_forward_reference(a.data(), tables);
        ntt_forward_u32_avx2(b.data(), *tables.tables32());
        ASSERT_EQ(a, std::vector<std::uint64_t>(b.begin(), b.end())) << "forward n=" << n << " bits=" << bits;
        ntt_inverse_reference(a.data(), tables);
        ntt_inverse_u32_avx2(b.data(), *tables.tables32());
        ASSERT_EQ(a, std::vector<std::uint64_t>(b.begin(), b.end())) << "inverse n=" << n << " bits=" << bits;
      }
    }
  }
  const NttTables wide(2048, Modulus(generate_ntt_primes(31, 1, 2048)[0]));
  EXPECT_EQ(wide.tables32(), nullptr);  // q >= 2^30: no 32-bit copy
}

TEST_P(NttTest, Avx512IfmaMatchesReference) {
  const auto [n, bits] = GetParam();
  if (!cpu_has_avx512ifma()) GTEST_SKIP() << "CPU has no AVX-512 IFMA (or SIMD disabled)";
  // IFMA needs q < 2^50: use the case's degree with primes of 27, 45 and 49 bits.
  for (int b : {27, 45, 49}) {
    const Modulus q(generate_ntt_primes(b, 1, n)[0]);
    const NttTables tables(n, q);
    ASSERT_TRUE(tables.supports_ifma());
    std::mt19937_64 rng(n * 13 + b);
    for (int it = 0; it < 3; ++it) {
      auto a = random_poly(n, q.value(), rng);
      if (it == 2) std::fill(a.begin(), a.end(), q.value() - 1);
      auto c = a;
      ntt_forward_reference(a.data(), tables);
      ntt_forward_ifma(c.data(), tables);
      ASSERT_EQ(a, c) << "forward b=" << b;
      ntt_inverse_reference(a.data(), tables);
      ntt_inverse_ifma(c.data(), tables);
      ASSERT_EQ(a, c) << "inverse b=" << b;
    }
  }
  (void)bits;
}

TEST_P(NttTest, AutomorphismPermutationMatchesCoefficientMap) {
  const auto [n, bits] = GetParam();
  const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(n + 11);
  auto a = random_poly(n, q.value(), rng);
  for (std::uint64_t g : {std::uint64_t{3}, std::uint64_t{5}, std::uint64_t{2 * n - 1}, std::uint64_t{n + 1}}) {
    // a(X^g) in coefficients: X^i -> +-X^(i g mod N).
    std::vector<std::uint64_t> expect(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t e = (i * g) % (2 * n);
      if (e < n) expect[e] = a[i];
      else expect[e - n] = q.negate(a[i]);
    }
    auto t = a;
    ntt_forward(t.data(), tables);
    const auto perm = ntt_automorphism_permutation(n, g);
    std::vector<std::uint64_t> permuted(n);
    for (std::size_t i = 0; i < n; ++i) permuted[i] = t[perm[i]];
    ntt_inverse(permuted.data(), tables);
    ASSERT_EQ(permuted, expect) << "g=" << g;
  }
}

INSTANTIATE_TEST_SUITE_P(Degrees, NttTest,
                         ::testing::Values(NttCase{2048, 27}, NttCase{2048, 60}, NttCase{4096, 54}, NttCase{4096, 60},
                                           NttCase{8192, 54}, NttCase{16384, 45}, NttCase{16384, 61}),
                         [](const auto& info) {
                           return "N" + std::to_string(info.param.n) + "_q" + std::to_string(info.param.bits);
                         });

TEST(Ntt, SmallDegreesAndBadTables) {
  for (std::size_t n : {2u, 4u, 8u, 16u}) {
    const Modulus q(generate_ntt_primes(20, 1, n)[0]);
    const NttTables tables(n, q);
    std::mt19937_64 rng(n);
    auto a = random_poly(n, q.value(), rng), b = random_poly(n, q.value(), rng);
    const auto expect = negacyclic_multiply_schoolbook(a, b, q);
    ntt_forward(a.data(), tables);
    ntt_forward(b.data(), tables);
    multiply_mod(a.data(), b.data(), a.data(), n, q);
    ntt_inverse(a.data(), tables);
    EXPECT_EQ(a, expect);
  }
  EXPECT_THROW(NttTables(3000, Modulus(12289)), fhellm::Error);
  EXPECT_THROW(NttTables(4096, Modulus(12289)), fhellm::Error);  // 12289 != 1 mod 8192
  EXPECT_THROW(NttTables(1024, Modulus(12287)), fhellm::Error);  // not prime
  EXPECT_THROW(ntt_automorphism_permutation(1024, 4), fhellm::Error);
}

TEST(Ntt, IfmaOnSmallDegrees) {
  if (!cpu_has_avx512ifma()) GTEST_SKIP() << "CPU has no AVX-512 IFMA (or SIMD disabled)";
  for (std::size_t n : {16u, 32u, 64u}) {
    const Modulus q(generate_ntt_primes(40, 1, n)[0]);
    const NttTables tables(n, q);
    std::mt19937_64 rng(n);
    auto a = random_poly(n, q.value(), rng);
    auto c = a;
    ntt_forward_reference(a.data(), tables);
    ntt_forward_ifma(c.data(), tables);
    ASSERT_EQ(a, c);
    ntt_inverse_reference(a.data(), tables);
    ntt_inverse_ifma(c.data(), tables);
    ASSERT_EQ(a, c);
  }
  EXPECT_FALSE(NttTables(1024, Modulus(generate_ntt_primes(55, 1, 1024)[0])).supports_ifma());
}

TEST(Ntt, DispatchHonoursSimdSwitch) {
  const Modulus q(generate_ntt_primes(50, 1, 4096)[0]);
  const NttTables tables(4096, q);
  std::mt19937_64 rng(5);
  auto a = random_poly(4096, q.value(), rng);
  auto b = a;
  set_simd_enabled(false);
  EXPECT_FALSE(cpu_has_avx2());
  ntt_forward(a.data(), tables);
  set_simd_enabled(true);
  ntt_forward(b.data(), tables);
  EXPECT_EQ(a, b);
}
