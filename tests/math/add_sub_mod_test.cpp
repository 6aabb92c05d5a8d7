// Element-wise modular add and subtract (poly_arith.h): the dispatched kernels
// (AVX-512 where present) against the definition, on random and boundary
// values, lengths that are not multiples of the vector width, and in place.
#include <gtest/gtest.h>

#include <random>
#include <vector>

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

}  // namespace
}  // namespace fhellm::math
