// Element-wise modular add and subtract (poly_arith.h): the dispatched kernels
// (AVX-512 where present) against the definition, on random and boundary
// values, lengths that are not multiples of the vector width, and in place;
// the packing tree's NTT-form butterfly on every kernel set.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "math/cpu_features.h"
#include "math/modulus.h"
#include "math/poly_arith.h"

namespace fhellm::math {
namespace {

TEST(AddSubMod, MatchTheDefinition) {
  std::mt19937_64 rng(3);
  for (std::uint64_t m : {3ull, 134215681ull, (1ull << 50) - 27, (1ull << 61) - 1}) {
    const Modulus q(m);
    for (std::size_t n : {1u, 7u, 8u, 9u, 2048u, 2051u}) {
      std::uniform_int_distribution<std::uint64_t> d(0, m - 1);
      std::vector<std::uint64_t> a(n), b(n), sum(n), diff(n);
      for (std::size_t i = 0; i < n; ++i) {
        a[i] = i % 5 == 0 ? m - 1 : d(rng);
        b[i] = i % 7 == 0 ? m - 1 : i % 3 == 0 ? 0 : d(rng);
      }
      add_mod(a.data(), b.data(), sum.data(), n, q);
      sub_mod(a.data(), b.data(), diff.data(), n, q);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(sum[i], static_cast<std::uint64_t>((static_cast<unsigned __int128>(a[i]) + b[i]) % m)) << m << " " << i;
        ASSERT_EQ(diff[i], static_cast<std::uint64_t>((static_cast<unsigned __int128>(a[i]) + m - b[i]) % m)) << m << " " << i;
      }
      // In place (out aliases a).
      std::vector<std::uint64_t> c = a;
      add_mod(c.data(), b.data(), c.data(), n, q);
      EXPECT_EQ(c, sum);
      c = a;
      sub_mod(c.data(), b.data(), c.data(), n, q);
      EXPECT_EQ(c, diff);
    }
  }
}

// The packing tree's butterfly in NTT form (monomial_butterfly_ntt): e <- e + o m,
// d <- e - o m mod q, for every kernel set, random and boundary values,
// lengths with tails, against the definition.
TEST(AddSubMod, MonomialButterflyMatchesTheDefinition) {
  std::mt19937_64 rng(23);
  for (const std::uint64_t qv : {std::uint64_t{134176769}, (std::uint64_t{1} << 31) - 1}) {
    const Modulus q(qv);
    const std::uint64_t p = q.value();
    for (const std::size_t n : {std::size_t{1}, std::size_t{13}, std::size_t{2048}}) {
      std::vector<std::uint64_t> e(n), o(n), m(n), ms(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t pick = rng() % 6;
        e[i] = pick == 0 ? p - 1 : rng() % p;
        o[i] = pick == 1 ? p - 1 : rng() % p;
        m[i] = pick == 2 ? p - 1 : rng() % p;
        ms[i] = (m[i] << 32) / p;
      }
      std::vector<std::uint64_t> want_e(n), want_d(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t t = static_cast<std::uint64_t>(static_cast<unsigned __int128>(o[i]) * m[i] % p);
        want_e[i] = (e[i] + t) % p;
        want_d[i] = (e[i] + p - t) % p;
      }
      for (int set = 0; set < 3; ++set) {
        set_avx512_enabled(set == 0);
        set_simd_enabled(set != 2);
        std::vector<std::uint64_t> got_e = e, got_d(n, 7);
        monomial_butterfly_ntt(got_e.data(), o.data(), m.data(), ms.data(), got_d.data(), n, q);
        EXPECT_EQ(got_e, want_e) << "q " << p << " n " << n << " kernel set " << set;
        EXPECT_EQ(got_d, want_d) << "q " << p << " n " << n << " kernel set " << set;
      }
      set_avx512_enabled(true);
      set_simd_enabled(true);
    }
  }
}

}  // namespace
}  // namespace fhellm::math
