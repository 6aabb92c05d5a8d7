#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/modulus.h"
#include "math/poly_arith.h"
#include "math/primes.h"
#include "math/rns.h"
#include "math/wide_int.h"

using namespace fhellm::math;

TEST(Modulus, RejectsOutOfDomain) {
  EXPECT_THROW(Modulus(0), fhellm::Error);
  EXPECT_THROW(Modulus(1), fhellm::Error);
  EXPECT_THROW(Modulus(std::uint64_t{1} << 61), fhellm::Error);
  EXPECT_NO_THROW(Modulus((std::uint64_t{1} << 61) - 1));
}

TEST(Modulus, BarrettAndShoupMatchDivision) {
  std::mt19937_64 rng(1);
  for (std::uint64_t qv : {std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{65537}, std::uint64_t{134215681},
                           (std::uint64_t{1} << 32) - 5, (std::uint64_t{1} << 40), (std::uint64_t{1} << 61) - 1,
                           std::uint64_t{1152921504606830593ULL}}) {
    const Modulus q(qv);
    for (int i = 0; i < 2000; ++i) {
      const std::uint64_t x = rng();
      EXPECT_EQ(q.reduce(x), x % qv);
      const std::uint64_t a = rng() % qv, b = rng() % qv;
      const u128 p = static_cast<u128>(a) * b;
      EXPECT_EQ(q.mul(a, b), static_cast<std::uint64_t>(p % qv));
      // Any x < 2^64 * q reduces.
      const u128 big = (static_cast<u128>(rng() % qv) << 64) | rng();
      EXPECT_EQ(q.reduce(big), static_cast<std::uint64_t>(big % qv));
      const ShoupConstant w(b, q);
      EXPECT_EQ(mul_shoup(a, w, qv), static_cast<std::uint64_t>(p % qv));
      const std::uint64_t any = rng();
      EXPECT_EQ(mul_shoup(any, w, qv), static_cast<std::uint64_t>(static_cast<u128>(any) * b % qv));
      EXPECT_LT(mul_shoup_lazy(any, w, qv), 2 * qv);
    }
    // Extremes.
    EXPECT_EQ(q.mul(qv - 1, qv - 1), static_cast<std::uint64_t>(static_cast<u128>(qv - 1) * (qv - 1) % qv));
    EXPECT_EQ(q.from_signed(-1), qv - 1);
    EXPECT_EQ(q.from_signed(INT64_MIN), static_cast<std::uint64_t>((static_cast<__int128>(INT64_MIN) % qv + qv) % qv));
  }
}

TEST(Modulus, InverseAndPow) {
  const Modulus q(134215681);
  for (std::uint64_t a : {1ULL, 2ULL, 12345ULL, 134215680ULL}) {
    EXPECT_EQ(q.mul(a, q.inverse(a)), 1u);
    EXPECT_EQ(q.pow(a, q.value() - 1), 1u);  // Fermat
  }
  EXPECT_THROW(Modulus(100).inverse(10), fhellm::Error);
}

TEST(Primes, MillerRabinAgainstTrialDivision) {
  auto slow = [](std::uint64_t n) {
    if (n < 2) return false;
    for (std::uint64_t d = 2; d * d <= n; ++d)
      if (n % d == 0) return false;
    return true;
  };
  for (std::uint64_t n = 0; n < 20000; ++n) ASSERT_EQ(is_prime(n), slow(n)) << n;
  EXPECT_TRUE(is_prime((std::uint64_t{1} << 61) - 1));
  EXPECT_FALSE(is_prime(3215031751ULL));  // strong pseudoprime to bases 2, 3, 5, 7
  EXPECT_FALSE(is_prime(std::uint64_t{4294967291ULL} * 4294967279ULL));
}

TEST(Primes, NttFriendlyAndDescending) {
  for (std::size_t n : {2048u, 4096u, 16384u}) {
    const auto primes = generate_ntt_primes(54, 4, n);
    ASSERT_EQ(primes.size(), 4u);
    for (std::size_t i = 0; i < primes.size(); ++i) {
      EXPECT_TRUE(is_prime(primes[i]));
      EXPECT_EQ(primes[i] % (2 * n), 1u);
      EXPECT_LT(primes[i], std::uint64_t{1} << 54);
      EXPECT_GE(primes[i], std::uint64_t{1} << 53);
      if (i) { EXPECT_LT(primes[i], primes[i - 1]); }
    }
  }
  EXPECT_THROW(generate_ntt_primes(12, 1, 4096), fhellm::Error);
  EXPECT_THROW(generate_ntt_primes(30, 1, 3000), fhellm::Error);
  EXPECT_THROW(generate_ntt_primes(62, 1, 4096), fhellm::Error);
  EXPECT_THROW(generate_ntt_primes(14, 100, 2048), fhellm::Error);
}

TEST(WideInt, ArithmeticAndString) {
  WideInt a = WideInt::from_u64(~0ULL).times(-3);
  EXPECT_TRUE(a.is_negative());
  EXPECT_EQ(a.to_string(), "-55340232221128654845");
  EXPECT_EQ((a + a.abs()).is_zero(), true);
  EXPECT_TRUE(WideInt::from_i64(-5) < WideInt::from_i64(3));
  EXPECT_EQ(WideInt::from_i64(-8).shifted_right(1), WideInt::from_i64(-4));
  EXPECT_TRUE(WideInt::from_i64(-7).fits_i64());
  EXPECT_FALSE(WideInt::from_u64(~0ULL).fits_i64());
  EXPECT_EQ(WideInt::from_u64(1000).divided_by(7), WideInt::from_u64(142));
}

TEST(RnsBasis, ComposeDecomposeRoundTrip) {
  const auto primes = generate_ntt_primes(54, 4, 8192);
  std::vector<Modulus> moduli(primes.begin(), primes.end());
  const RnsBasis basis(moduli);
  EXPECT_NEAR(basis.log2_product(), 4 * 54, 0.1);
  EXPECT_EQ(basis.product_bits(), 216);
  std::mt19937_64 rng(7);
  for (int it = 0; it < 200; ++it) {
    std::uint64_t residues[4];
    for (int i = 0; i < 4; ++i) residues[i] = rng() % primes[i];
    const WideInt x = basis.compose(residues);
    EXPECT_FALSE(x.is_negative());
    EXPECT_TRUE(x < basis.product());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(x.mod_word(primes[i]), residues[i]);
    std::uint64_t back[4];
    basis.decompose(basis.compose_centered(residues), back);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], residues[i]);
  }
  const std::int64_t small = -123456789;
  std::uint64_t residues[4];
  basis.decompose(WideInt::from_i64(small), residues);
  EXPECT_EQ(basis.compose_centered(residues), WideInt::from_i64(small));
  EXPECT_THROW(RnsBasis({Modulus(6), Modulus(9)}), fhellm::Error);
  EXPECT_THROW(RnsBasis(std::vector<Modulus>{}), fhellm::Error);
}

TEST(PolyArith, SimdKernelsMatchPortableLoops) {
  // lift_signed and multiply_accumulate_u64 dispatch to AVX-512 builds: compare
  // with the same computation done here, with SIMD enabled and disabled.
  std::mt19937_64 rng(8);
  const std::uint64_t q = 134176769;
  const std::size_t n = 1000;  // not a multiple of 8: exercises the tails
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = static_cast<std::int64_t>(rng() % (2 * q - 1)) - static_cast<std::int64_t>(q - 1);
  std::vector<std::uint64_t> a(n), b(n), acc0(n, 7), expect_acc(n), lifted(n), expect_lift(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = rng() % q;
    b[i] = rng() % q;
    expect_acc[i] = 7 + a[i] * b[i];
    expect_lift[i] = v[i] < 0 ? q - static_cast<std::uint64_t>(-v[i]) : static_cast<std::uint64_t>(v[i]);
  }
  for (bool simd : {true, false}) {
    set_simd_enabled(simd);
    auto acc = acc0;
    multiply_accumulate_u64(a.data(), b.data(), acc.data(), n);
    lift_signed(v.data(), q, lifted.data(), n);
    EXPECT_EQ(acc, expect_acc) << "simd " << simd;
    EXPECT_EQ(lifted, expect_lift) << "simd " << simd;
  }
  set_simd_enabled(true);
}

TEST(PolyArith, Split52AccumulationMatchesReduced) {
  std::mt19937_64 rng(9);
  for (std::uint64_t qv : {std::uint64_t{134176769}, std::uint64_t{68719403009}, (std::uint64_t{1} << 50) - 27}) {
    const Modulus q(qv);
    const std::size_t n = 37, terms = 300;
    for (bool simd : {true, false}) {
      set_simd_enabled(simd);
      std::vector<std::uint64_t> expect(n, 0), lo(n, 0), hi(n, 0), out(n);
      for (std::size_t t = 0; t < terms; ++t) {
        std::vector<std::uint64_t> a(n), b(n);
        for (auto& v : a) v = t == 0 ? qv - 1 : rng() % qv;
        for (auto& v : b) v = t == 0 ? qv - 1 : rng() % qv;
        multiply_add_mod(a.data(), b.data(), expect.data(), n, q);
        multiply_accumulate_split52(a.data(), b.data(), lo.data(), hi.data(), n);
      }
      reduce_split52(lo.data(), hi.data(), out.data(), n, q);
      EXPECT_EQ(out, expect) << "q=" << qv << " simd " << simd;
    }
    set_simd_enabled(true);
  }
}

TEST(PolyArith, LazyAccumulatorsMatchReduced) {
  std::mt19937_64 rng(3);
  for (std::uint64_t qv : {134215681ULL, 18014398509404161ULL}) {
    const Modulus q(qv);
    const std::size_t n = 64, terms = 100;
    std::vector<std::uint64_t> expect(n, 0), acc64(n, 0), out(n);
    std::vector<u128> acc128(n, 0);
    for (std::size_t t = 0; t < terms; ++t) {
      std::vector<std::uint64_t> a(n), b(n);
      for (auto& v : a) v = rng() % qv;
      for (auto& v : b) v = rng() % qv;
      multiply_add_mod(a.data(), b.data(), expect.data(), n, q);
      multiply_accumulate_u128(a.data(), b.data(), acc128.data(), n);
      if (max_lazy_terms_u64(q) >= terms) multiply_accumulate_u64(a.data(), b.data(), acc64.data(), n);
    }
    reduce_u128(acc128.data(), out.data(), n, q);
    EXPECT_EQ(out, expect);

    if (max_lazy_terms_u64(q) >= terms) {
      reduce_u64(acc64.data(), out.data(), n, q);
      EXPECT_EQ(out, expect);
    } else {
      EXPECT_EQ(max_lazy_terms_u64(q), 0u);
    }
  }
}
