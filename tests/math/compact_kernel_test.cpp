// 64-bit x 32-bit lazy multiply-accumulate kernels (compact NTT weight
// plaintexts): the AVX-512 builds against the portable loops and against an
// exact sum computed here, including tails (n not a multiple of 8) and the
// largest operands.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "math/cpu_features.h"
#include "math/modulus.h"
#include "math/poly_arith.h"

using namespace fhellm::math;

namespace {

struct Operands {
  std::vector<std::uint64_t> a0, a1, acc0, acc1;
  std::vector<std::uint32_t> b;
};

// Values in [0, q), with the first element of each array at q - 1 (largest product).
Operands random_operands(std::size_t n, std::uint64_t q, std::mt19937_64& rng) {
  Operands o;
  o.a0.resize(n);
  o.a1.resize(n);
  o.b.resize(n);
  o.acc0.resize(n);
  o.acc1.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    o.a0[i] = i == 0 ? q - 1 : rng() % q;
    o.a1[i] = i == 0 ? q - 1 : rng() % q;
    o.b[i] = static_cast<std::uint32_t>(i == 0 ? q - 1 : rng() % q);
    o.acc0[i] = rng() >> 32;  // a partial sum: room for one more product even at q = 2^32 - 1
    o.acc1[i] = rng() >> 32;
  }
  return o;
}

}  // namespace

TEST(CompactKernels, MatchExactSumsWithAndWithoutSimd) {
  std::mt19937_64 rng(21);
  // A 27-bit NTT prime (n2048_q54's kind) and the largest 32-bit value.
  for (std::uint64_t q : {std::uint64_t{134176769}, std::uint64_t{4294967295}}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{1003},
                          std::size_t{2048}}) {
      const Operands o = random_operands(n, q, rng);
      std::vector<std::uint64_t> expect0(n), expect1(n);
      for (std::size_t i = 0; i < n; ++i) {
        expect0[i] = o.acc0[i] + o.a0[i] * o.b[i];
        expect1[i] = o.acc1[i] + o.a1[i] * o.b[i];
      }
      std::vector<std::uint64_t> single_by_mode[2];
      for (bool simd : {true, false}) {
        set_simd_enabled(simd);
        auto single = o.acc0;
        multiply_accumulate_u64_u32(o.a0.data(), o.b.data(), single.data(), n);
        EXPECT_EQ(single, expect0) << "q=" << q << " n=" << n << " simd " << simd;
        auto pair0 = o.acc0, pair1 = o.acc1;
        multiply_accumulate_pair_u64_u32(o.a0.data(), o.a1.data(), o.b.data(), pair0.data(), pair1.data(), n);
        EXPECT_EQ(pair0, expect0) << "q=" << q << " n=" << n << " simd " << simd;
        EXPECT_EQ(pair1, expect1) << "q=" << q << " n=" << n << " simd " << simd;
        single_by_mode[simd ? 1 : 0] = single;
      }
      set_simd_enabled(true);
      EXPECT_EQ(single_by_mode[0], single_by_mode[1]);
    }
  }
}

TEST(CompactKernels, AgreeWithTheU64KernelOverALazySum) {
  // The 32-bit plaintext kernel must be a drop-in for multiply_accumulate_u64
  // under its lazy contract: max_lazy_terms_u64(q) worst-case terms, then reduce.
  const Modulus q(134176769);
  const std::size_t n = 77, terms = max_lazy_terms_u64(q);
  ASSERT_GT(terms, 100u);
  std::vector<std::uint64_t> a(n, q.value() - 1), b64(n, q.value() - 1);
  std::vector<std::uint32_t> b32(b64.begin(), b64.end());
  for (bool simd : {true, false}) {
    set_simd_enabled(simd);
    std::vector<std::uint64_t> acc64(n, 0), acc32(n, 0), acc_pair0(n, 0), acc_pair1(n, 0);
    for (std::size_t t = 0; t < terms; ++t) {
      multiply_accumulate_u64(a.data(), b64.data(), acc64.data(), n);
      multiply_accumulate_u64_u32(a.data(), b32.data(), acc32.data(), n);
      multiply_accumulate_pair_u64_u32(a.data(), a.data(), b32.data(), acc_pair0.data(), acc_pair1.data(), n);
    }
    EXPECT_EQ(acc32, acc64) << "simd " << simd;
    EXPECT_EQ(acc_pair0, acc64) << "simd " << simd;
    EXPECT_EQ(acc_pair1, acc64) << "simd " << simd;
    std::vector<std::uint64_t> out(n);
    reduce_u64(acc32.data(), out.data(), n, q);
    // (q - 1)^2 = 1 mod q: the sum is `terms` mod q.
    EXPECT_EQ(out, std::vector<std::uint64_t>(n, terms % q.value())) << "simd " << simd;
  }
  set_simd_enabled(true);
}

// Two terms in one pass (multiply_accumulate_pair2_u64_u32) equal two single
// passes, with and without SIMD, tails included.
TEST(CompactKernels, TwoTermsInOnePassEqualTwoPasses) {
  std::mt19937_64 rng(77);
  const std::uint64_t q = 134176769;
  for (std::size_t n : {1u, 3u, 4u, 7u, 64u, 2049u}) {
    const Operands x = random_operands(n, q, rng), y = random_operands(n, q, rng);
    for (bool simd : {true, false}) {
      set_simd_enabled(simd);
      std::vector<std::uint64_t> one0 = x.acc0, one1 = x.acc1, two0 = x.acc0, two1 = x.acc1;
      multiply_accumulate_pair_u64_u32(x.a0.data(), x.a1.data(), x.b.data(), one0.data(), one1.data(), n);
      multiply_accumulate_pair_u64_u32(y.a0.data(), y.a1.data(), y.b.data(), one0.data(), one1.data(), n);
      multiply_accumulate_pair2_u64_u32(x.a0.data(), x.a1.data(), x.b.data(), y.a0.data(), y.a1.data(), y.b.data(),
                                        two0.data(), two1.data(), n);
      EXPECT_EQ(two0, one0) << "n=" << n << " simd " << simd;
      EXPECT_EQ(two1, one1) << "n=" << n << " simd " << simd;
    }
  }
  set_simd_enabled(true);
}
