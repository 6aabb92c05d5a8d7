// Key-switch kernels (keyswitch_kernels.h): the dispatched (AVX-512 where
// present) versions against the portable *_reference loops and against exact
// values computed here, on random inputs with extremes and tails (n not a
// multiple of 8).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "block_permutation_util.h"
#include "math/cpu_features.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/poly_arith.h"
#include "math/primes.h"

using namespace fhellm::math;

namespace {

const std::size_t kSizes[] = {0, 1, 7, 8, 13, 1003, 2048};

std::vector<std::uint64_t> residues(std::size_t n, std::uint64_t q, std::mt19937_64& rng) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t pick = rng() % 16;
    v[i] = pick == 0 ? 0 : pick == 1 ? q - 1 : pick == 2 ? q / 2 : pick == 3 ? q / 2 + 1 : rng() % q;
  }
  return v;
}

}  // namespace

TEST(KeySwitchKernels, GadgetDigitsReconstructTheCentredResidue) {
  std::mt19937_64 rng(41);
  for (std::uint64_t q_src : {std::uint64_t{134176769}, std::uint64_t{68718821377}, (std::uint64_t{1} << 50) - 27}) {
    const int bits = 64 - __builtin_clzll(q_src);
    for (int w : {1, 5, 9, 14, 20, 27, 61}) {
      const std::size_t levels = static_cast<std::size_t>((bits + w - 1) / w);
      const std::uint64_t bound = gadget_digit_bound(q_src, w, levels);
      const std::uint64_t q_dst = std::max<std::uint64_t>(2 * bound + 3, (std::uint64_t{1} << 40) + 15);  // signs stay readable
      for (std::size_t n : kSizes) {
        const auto c = residues(n, q_src, rng);
        std::vector<std::int64_t> sum(n, 0);
        for (std::size_t t = 0; t < levels; ++t) {
          const GadgetDigit g{q_src, w, levels, t};
          std::vector<std::uint64_t> fast(n), ref(n);
          gadget_digit_lift(c.data(), g, q_dst, fast.data(), n);
          gadget_digit_lift_reference(c.data(), g, q_dst, ref.data(), n);
          ASSERT_EQ(fast, ref) << "q=" << q_src << " w=" << w << " t=" << t << " n=" << n;
          for (std::size_t j = 0; j < n; ++j) {
            ASSERT_LT(ref[j], q_dst);
            const std::int64_t d = ref[j] > q_dst / 2 ? static_cast<std::int64_t>(ref[j] - q_dst)
                                                      : static_cast<std::int64_t>(ref[j]);
            ASSERT_LE(static_cast<std::uint64_t>(d < 0 ? -d : d), bound);
            if (t + 1 < levels) {
              ASSERT_GE(d, -(std::int64_t{1} << (w - 1)));
              ASSERT_LT(d, std::int64_t{1} << (w - 1));
            }
            sum[j] += static_cast<std::int64_t>(static_cast<__int128>(d) * (static_cast<__int128>(1) << (w * t)));
          }
        }
        for (std::size_t j = 0; j < n; ++j) {
          const std::int64_t x = c[j] > q_src / 2 ? static_cast<std::int64_t>(c[j]) - static_cast<std::int64_t>(q_src)
                                                  : static_cast<std::int64_t>(c[j]);
          ASSERT_EQ(sum[j], x) << "q=" << q_src << " w=" << w << " j=" << j;
        }
      }
    }
  }
}

TEST(KeySwitchKernels, PairAccumulatesMatchReference) {
  std::mt19937_64 rng(42);
  for (std::size_t n : kSizes) {
    for (bool assign : {true, false}) {
      const std::uint64_t q32 = 134176769, q50 = (std::uint64_t{1} << 50) - 27;
      const auto r = residues(n, q32, rng), b = residues(n, q32, rng), a = residues(n, q32, rng);
      std::vector<std::uint64_t> f0(n), f1(n);
      for (auto& v : f0) v = rng() >> 8;
      f1 = f0;
      auto g0 = f0, g1 = f1;
      const auto before = f1;
      multiply_accumulate_pair_u64(r.data(), b.data(), a.data(), f0.data(), f1.data(), n, assign);
      multiply_accumulate_pair_u64_reference(r.data(), b.data(), a.data(), g0.data(), g1.data(), n, assign);
      ASSERT_EQ(f0, g0);
      ASSERT_EQ(f1, g1);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(g1[i], (assign ? 0 : before[i]) + r[i] * a[i]);
      }
      const auto R = residues(n, q50, rng), B = residues(n, q50, rng), A = residues(n, q50, rng);
      std::vector<std::uint64_t> l0(n), h0(n), l1(n), h1(n);
      for (std::size_t i = 0; i < n; ++i) {
        l0[i] = rng() >> 12;
        h0[i] = rng() >> 12;
        l1[i] = rng() >> 12;
        h1[i] = rng() >> 12;
      }
      auto L0 = l0, H0 = h0, L1 = l1, H1 = h1;
      multiply_accumulate_pair_split52(R.data(), B.data(), A.data(), l0.data(), h0.data(), l1.data(), h1.data(), n,
                                       assign);
      multiply_accumulate_pair_split52_reference(R.data(), B.data(), A.data(), L0.data(), H0.data(), L1.data(),
                                                 H1.data(), n, assign);
      ASSERT_EQ(l0, L0);
      ASSERT_EQ(h0, H0);
      ASSERT_EQ(l1, L1);
      ASSERT_EQ(h1, H1);
    }
  }
}

TEST(KeySwitchKernels, DotPairReduceIsExact) {
  std::mt19937_64 rng(46);
  for (std::uint64_t qv : {std::uint64_t{134176769}, std::uint64_t{4294967291}, std::uint64_t{68718821377},
                           (std::uint64_t{1} << 50) - 27}) {
    const Modulus q(qv);
    const bool small = qv < (std::uint64_t{1} << 32);
    const std::size_t max_count = small ? std::min<std::size_t>(max_lazy_terms_u64(q), 40) : kDotSplit52MaxTerms;
    for (std::size_t count : {std::size_t{1}, std::min<std::size_t>(6, max_count), max_count}) {
      for (std::size_t n : kSizes) {
        std::vector<std::vector<std::uint64_t>> R, B, A;
        std::vector<const std::uint64_t*> rp, bp, ap;
        for (std::size_t d = 0; d < count; ++d) {
          R.push_back(residues(n, qv, rng));
          B.push_back(residues(n, qv, rng));
          A.push_back(residues(n, qv, rng));
          if (n > 0) R.back()[0] = B.back()[0] = A.back()[0] = qv - 1;  // largest sums
        }
        for (std::size_t d = 0; d < count; ++d) {
          rp.push_back(R[d].data());
          bp.push_back(B[d].data());
          ap.push_back(A[d].data());
        }
        std::vector<std::uint64_t> o0(n), o1(n), e0(n), e1(n);
        if (small) {
          dot_pair_reduce_u64(rp.data(), bp.data(), ap.data(), count, o0.data(), o1.data(), n, q);
          dot_pair_reduce_u64_reference(rp.data(), bp.data(), ap.data(), count, e0.data(), e1.data(), n, q);
        } else {
          dot_pair_reduce_split52(rp.data(), bp.data(), ap.data(), count, o0.data(), o1.data(), n, q);
          dot_pair_reduce_split52_reference(rp.data(), bp.data(), ap.data(), count, e0.data(), e1.data(), n, q);
        }
        ASSERT_EQ(o0, e0) << "q=" << qv << " count=" << count << " n=" << n;
        ASSERT_EQ(o1, e1);
        for (std::size_t j = 0; j < n; ++j) {
          unsigned __int128 s0 = 0, s1 = 0;
          for (std::size_t d = 0; d < count; ++d) {
            s0 += static_cast<unsigned __int128>(R[d][j]) * B[d][j];
            s1 += static_cast<unsigned __int128>(R[d][j]) * A[d][j];
          }
          ASSERT_EQ(e0[j], static_cast<std::uint64_t>(s0 % qv));
          ASSERT_EQ(e1[j], static_cast<std::uint64_t>(s1 % qv));
        }
      }
    }
  }
}

TEST(KeySwitchKernels, ReductionsAreExact) {
  std::mt19937_64 rng(43);
  for (std::uint64_t qv : {std::uint64_t{3}, std::uint64_t{134176769}, (std::uint64_t{1} << 30) - 35, std::uint64_t{4294967291},
                           std::uint64_t{68718821377}, (std::uint64_t{1} << 50) - 27}) {
    const Modulus q(qv);
    for (std::size_t n : kSizes) {
      std::vector<std::uint64_t> acc(n), hi(n), out(n), ref(n);
      for (std::size_t i = 0; i < n; ++i) {
        acc[i] = i == 0 ? ~std::uint64_t{0} : rng() >> (rng() % 64);
        hi[i] = i == 1 ? (std::uint64_t{1} << 52) - 1 : rng() >> (12 + rng() % 52);
      }
      reduce_u64_fast(acc.data(), out.data(), n, q);
      reduce_u64_fast_reference(acc.data(), ref.data(), n, q);
      ASSERT_EQ(out, ref) << "q=" << qv;
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(ref[i], acc[i] % qv);
      if (qv >= (std::uint64_t{1} << 50)) continue;
      // Some blocks with acc_hi >= 2^52 (scalar fallback).
      if (n > 20) hi[17] = ~std::uint64_t{0} >> 3;
      reduce_split52_fast(acc.data(), hi.data(), out.data(), n, q);
      reduce_split52_fast_reference(acc.data(), hi.data(), ref.data(), n, q);
      ASSERT_EQ(out, ref) << "q=" << qv;
      for (std::size_t i = 0; i < n; ++i) {
        const unsigned __int128 x = (static_cast<unsigned __int128>(hi[i]) << 52) + acc[i];
        ASSERT_EQ(ref[i], static_cast<std::uint64_t>(x % qv));
      }
      // In place (acc aliased by out), as the key switch folds.
      auto inplace = acc;
      reduce_split52_fast(inplace.data(), hi.data(), inplace.data(), n, q);
      ASSERT_EQ(inplace, ref);
    }
  }
}

TEST(KeySwitchKernels, AutomorphismsMatchReference) {
  std::mt19937_64 rng(44);
  const std::uint64_t q = 134176769;
  for (std::size_t n : {std::size_t{8}, std::size_t{16}, std::size_t{2048}, std::size_t{8192}}) {
    const auto src = residues(n, q, rng);
    for (std::uint64_t g : {std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{5}, n + 1, 2 * n - 1}) {
      std::vector<std::uint64_t> fast(n), ref(n);
      automorphism_coeff(src.data(), g, q, fast.data(), n);
      automorphism_coeff_reference(src.data(), g, q, ref.data(), n);
      ASSERT_EQ(fast, ref) << "n=" << n << " g=" << g;
      const auto perm = ntt_automorphism_permutation(n, g);
      permute_slots(src.data(), perm.data(), fast.data(), n);
      permute_slots_reference(src.data(), perm.data(), ref.data(), n);
      ASSERT_EQ(fast, ref);
    }
  }
  // Every element, both slot permutations (the AVX-512 build moves whole
  // blocks of 16 slots), the sums reduced.
  for (std::size_t n : {std::size_t{16}, std::size_t{64}, std::size_t{2048}, std::size_t{4096}}) {
    const auto src = residues(n, q, rng);
    const auto add = residues(n, q, rng);
    for (std::uint64_t g = 1; g < 2 * n; g += 2) {
      const auto perm = ntt_automorphism_permutation(n, g);
      std::vector<std::uint64_t> fast(n), ref(n);
      permute_slots(src.data(), perm.data(), fast.data(), n);
      permute_slots_reference(src.data(), perm.data(), ref.data(), n);
      ASSERT_EQ(fast, ref) << "n=" << n << " g=" << g;
      permute_slots_add(src.data(), perm.data(), add.data(), fast.data(), n, q);
      for (std::size_t j = 0; j < n; ++j) ref[j] = (ref[j] + add[j]) % q;
      ASSERT_EQ(fast, ref) << "add n=" << n << " g=" << g;
    }
  }
  // The NTT-form permutation commutes with the transform.
  const std::size_t n = 2048;
  const Modulus qm(q);
  const NttTables tables(n, qm);
  const auto a = residues(n, q, rng);
  std::vector<std::uint64_t> coeff(n), slots = a, permuted(n);
  automorphism_coeff(a.data(), 5, q, coeff.data(), n);
  ntt_forward(coeff.data(), tables);
  ntt_forward(slots.data(), tables);
  const auto perm = ntt_automorphism_permutation(n, 5);
  permute_slots(slots.data(), perm.data(), permuted.data(), n);
  EXPECT_EQ(coeff, permuted);
}

TEST(KeySwitchKernels, PortablePathWhenSimdDisabled) {
  // The dispatchers fall back to the reference loops: same outputs.
  std::mt19937_64 rng(45);
  const std::uint64_t q = 134176769;
  const auto c = residues(1003, q, rng);
  std::vector<std::uint64_t> on(1003), off(1003);
  const GadgetDigit g{q, 9, 3, 1};
  gadget_digit_lift(c.data(), g, 68718821377, on.data(), on.size());
  set_simd_enabled(false);
  gadget_digit_lift(c.data(), g, 68718821377, off.data(), off.size());
  set_simd_enabled(true);
  EXPECT_EQ(on, off);
}

TEST(KeySwitchKernels, Ntt32MatchesReference) {
  // The 32-bit reference against the 64-bit one on every CPU; the SIMD
  // kernels against both where this CPU has them (AVX2 or AVX-512).
  std::mt19937_64 rng(47);
  for (std::size_t n : {std::size_t{32}, std::size_t{64}, std::size_t{2048}, std::size_t{4096}, std::size_t{16384}}) {
    for (int bits : {20, 27, 30}) {
      const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
      const NttTables tables(n, q);
      ASSERT_TRUE(q.value() < (std::uint64_t{1} << 30));
      const bool simd = ntt32_available(tables);
      for (int it = 0; it < 3; ++it) {
        auto a = residues(n, q.value(), rng);
        if (it == 2) std::fill(a.begin(), a.end(), q.value() - 1);
        std::vector<std::uint32_t> ref(a.begin(), a.end());
        ntt_forward_u32_reference(ref.data(), tables);
        auto wide = a;
        ntt_forward_reference(wide.data(), tables);
        ASSERT_EQ(std::vector<std::uint64_t>(ref.begin(), ref.end()), wide) << "n=" << n << " bits=" << bits;
        if (!simd) continue;
        const NttTables32& t32 = ntt_tables32(tables);
        EXPECT_EQ(&t32, &ntt_tables32(tables));  // cached
        std::vector<std::uint32_t> v(a.begin(), a.end());
        ntt_forward_u32(v.data(), t32);
        ASSERT_EQ(v, ref) << "n=" << n << " bits=" << bits;
        // Inverse on 32-bit lanes with 64-bit words in and out.
        auto back = wide;
        ntt_inverse_via32(back.data(), t32);
        ntt_inverse_reference(wide.data(), tables);
        ASSERT_EQ(back, wide) << "inverse n=" << n << " bits=" << bits;
        ASSERT_EQ(back, a);
      }
    }
  }
}

TEST(KeySwitchKernels, Words32DigitsAndDotMatch64BitKernels) {
  std::mt19937_64 rng(48);
  const std::uint64_t q = 134176769, q2 = 134111233;
  for (std::size_t n : kSizes) {
    const auto c = residues(n, q, rng);
    for (std::size_t t = 0; t < 3; ++t) {
      const GadgetDigit g{q, 9, 3, t};
      std::vector<std::uint64_t> wide(n);
      std::vector<std::uint32_t> narrow(n);
      gadget_digit_lift(c.data(), g, q2, wide.data(), n);
      gadget_digit_lift_u32(c.data(), g, q2, narrow.data(), n);
      ASSERT_EQ(std::vector<std::uint64_t>(narrow.begin(), narrow.end()), wide);
    }
    const Modulus qm(q);
    std::vector<std::vector<std::uint64_t>> R, B, A;
    std::vector<std::vector<std::uint32_t>> R32;
    std::vector<const std::uint64_t*> rp, bp, ap;
    std::vector<const std::uint32_t*> rp32;
    for (std::size_t d = 0; d < 6; ++d) {
      R.push_back(residues(n, q, rng));
      B.push_back(residues(n, q, rng));
      A.push_back(residues(n, q, rng));
      R32.emplace_back(R.back().begin(), R.back().end());
    }
    for (std::size_t d = 0; d < 6; ++d) {
      rp.push_back(R[d].data());
      rp32.push_back(R32[d].data());
      bp.push_back(B[d].data());
      ap.push_back(A[d].data());
    }
    std::vector<std::uint64_t> o0(n), o1(n), e0(n), e1(n);
    dot_pair_reduce_u64_r32(rp32.data(), bp.data(), ap.data(), 6, o0.data(), o1.data(), n, qm);
    dot_pair_reduce_u64_reference(rp.data(), bp.data(), ap.data(), 6, e0.data(), e1.data(), n, qm);
    ASSERT_EQ(o0, e0);
    ASSERT_EQ(o1, e1);
  }
}

TEST(KeySwitchKernels, MultiTargetLiftAndPermuteAdd) {
  std::mt19937_64 rng(49);
  const std::uint64_t q = 134176769;
  const std::uint64_t targets[3] = {134176769, 134111233, 132120577};
  for (std::size_t n : kSizes) {
    const auto c = residues(n, q, rng);
    for (std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      for (std::size_t t = 0; t < 3; ++t) {
        const GadgetDigit g{q, 9, 3, t};
        std::vector<std::vector<std::uint32_t>> got(count, std::vector<std::uint32_t>(n));
        std::uint32_t* outs[3];
        for (std::size_t l = 0; l < count; ++l) outs[l] = got[l].data();
        gadget_digit_lift_u32_multi(c.data(), g, targets, outs, count, n);
        for (std::size_t l = 0; l < count; ++l) {
          std::vector<std::uint64_t> want(n);
          gadget_digit_lift_reference(c.data(), g, targets[l], want.data(), n);
          ASSERT_EQ(std::vector<std::uint64_t>(got[l].begin(), got[l].end()), want) << "count=" << count;
        }
      }
    }
  }
  const std::size_t n = 2048;
  const auto src = residues(n, q, rng), add = residues(n, q, rng);
  const auto perm = ntt_automorphism_permutation(n, 7);
  std::vector<std::uint64_t> got(n), want(n);
  permute_slots_add(src.data(), perm.data(), add.data(), got.data(), n, q);
  for (std::size_t j = 0; j < n; ++j) want[j] = (src[perm[j]] + add[j]) % q;
  EXPECT_EQ(got, want);
}

// dot_pair_reduce_u32 (the hoisted automorphisms' multiply-accumulate): the
// dispatched kernel, AVX2 on an AVX-512 machine and the plain path against
// sums computed here, for sizes with tails and every digit count in use.
TEST(KeySwitchKernels, DotPairReduceU32MatchesExactSums) {
  std::mt19937_64 rng(77);
  const Modulus q(134176769);
  for (const std::size_t digits : {std::size_t{1}, std::size_t{8}, std::size_t{12}}) {
    for (const std::size_t n : kSizes) {
      std::vector<std::vector<std::uint32_t>> r(digits), b(digits), a(digits);
      std::vector<const std::uint32_t*> rp, bp, ap;
      for (std::size_t d = 0; d < digits; ++d) {
        for (auto* v : {&r[d], &b[d], &a[d]}) {
          const auto vals = residues(n, q.value(), rng);
          v->assign(vals.begin(), vals.end());
        }
        rp.push_back(r[d].data()), bp.push_back(b[d].data()), ap.push_back(a[d].data());
      }
      std::vector<std::uint64_t> want0(n), want1(n);
      for (std::size_t j = 0; j < n; ++j) {
        unsigned __int128 s0 = 0, s1 = 0;
        for (std::size_t d = 0; d < digits; ++d) {
          s0 += static_cast<unsigned __int128>(r[d][j]) * b[d][j];
          s1 += static_cast<unsigned __int128>(r[d][j]) * a[d][j];
        }
        want0[j] = static_cast<std::uint64_t>(s0 % q.value());
        want1[j] = static_cast<std::uint64_t>(s1 % q.value());
      }
      for (int set = 0; set < 3; ++set) {
        set_avx512_enabled(set == 0);
        set_simd_enabled(set != 2);
        std::vector<std::uint64_t> got0(n, 1), got1(n, 1);
        dot_pair_reduce_u32(rp.data(), bp.data(), ap.data(), digits, got0.data(), got1.data(), n, q);
        EXPECT_EQ(got0, want0) << "digits " << digits << " n " << n << " kernel set " << set;
        EXPECT_EQ(got1, want1) << "digits " << digits << " n " << n << " kernel set " << set;
      }
      set_avx512_enabled(true);
      set_simd_enabled(true);
    }
  }
}

// dot_pair_blocked_u32 (the hoisted multiply-accumulate written straight into
// the blocked layout): every kernel set against exact sums placed by hand, for
// a slice that starts past slot 0 (j0) and a block-keeping permutation with
// shuffled blocks; extremes (q - 1 everywhere) included; words outside the
// slice's output blocks stay untouched.
TEST(KeySwitchKernels, DotPairBlockedPlacesPermutedSums) {
  std::mt19937_64 rng(91);
  const std::size_t n = 512, blocks = n / kSlotBlock, stride = 3 * kSlotBlock;
  for (const std::uint64_t qv : {std::uint64_t{134176769}, std::uint64_t{(1u << 30) - 35}}) {
    const Modulus q(qv);
    const auto [perm, dest_block] = test_util::random_block_permutation(n, rng);
    for (const std::size_t digits : {std::size_t{1}, std::size_t{10}, std::size_t{15}}) {
      for (const bool extreme : {false, true}) {
        std::vector<std::vector<std::uint32_t>> r(digits), b(digits), a(digits);
        std::vector<const std::uint32_t*> rp, bp, ap;
        const auto word = [&] { return static_cast<std::uint32_t>(extreme ? qv - 1 : rng() % qv); };
        for (std::size_t d = 0; d < digits; ++d) {
          for (auto* v : {&r[d], &b[d], &a[d]}) {
            v->resize(n);
            for (auto& x : *v) x = word();
          }
        }
        std::vector<std::uint32_t> add(n);
        for (auto& x : add) x = word();
        std::vector<std::uint64_t> sum0(n), sum1(n);
        for (std::size_t j = 0; j < n; ++j) {
          unsigned __int128 s0 = add[j], s1 = 0;
          for (std::size_t d = 0; d < digits; ++d) {
            s0 += static_cast<unsigned __int128>(r[d][j]) * b[d][j];
            s1 += static_cast<unsigned __int128>(r[d][j]) * a[d][j];
          }
          sum0[j] = static_cast<std::uint64_t>(s0 % qv);
          sum1[j] = static_cast<std::uint64_t>(s1 % qv);
        }
        // The slice of source blocks 5 .. 5 + 20: the output blocks reading them.
        const std::size_t j0 = 5 * kSlotBlock, len = 20 * kSlotBlock;
        for (std::size_t d = 0; d < digits; ++d) rp.push_back(r[d].data() + j0), bp.push_back(b[d].data() + j0), ap.push_back(a[d].data() + j0);
        constexpr std::uint32_t kUnwritten = 0x5A5A5A5Au;
        std::vector<std::uint32_t> want(blocks * stride, kUnwritten);
        for (std::size_t blk = 0; blk < blocks; ++blk) {
          const std::size_t source = perm[blk * kSlotBlock] / kSlotBlock;
          if (source < 5 || source >= 25) continue;
          for (std::size_t s = 0; s < kSlotBlock; ++s) {
            want[blk * stride + blocked_slot_word(s)] = static_cast<std::uint32_t>(sum0[perm[blk * kSlotBlock + s]]);
            want[blk * stride + kSlotBlock + blocked_slot_word(s)] =
                static_cast<std::uint32_t>(sum1[perm[blk * kSlotBlock + s]]);
          }
        }
        for (int set = 0; set < 4; ++set) {
          set_avx512_enabled(set == 0);
          set_simd_enabled(set != 2);
          std::vector<std::uint32_t> got(blocks * stride, kUnwritten);
          const BlockedDestination dst{perm.data(), dest_block.data(), got.data(), got.data() + kSlotBlock, stride};
          if (set == 3) {
            dot_pair_blocked_u32_reference(rp.data(), bp.data(), ap.data(), digits, add.data() + j0, j0, len, dst, q);
          } else {
            dot_pair_blocked_u32(rp.data(), bp.data(), ap.data(), digits, add.data() + j0, j0, len, dst, q);
          }
          ASSERT_EQ(got, want) << "q " << qv << " digits " << digits << " extreme " << extreme << " kernel set " << set;
        }
        set_avx512_enabled(true);
        set_simd_enabled(true);
      }
    }
  }
}

// A two-digit gadget's top digit in NTT form from the input's and the low
// digit's transforms (gadget_top_digit_ntt_u32) equals the top digit's own
// transform, for every kernel set; and the kernels agree with the plain loop
// on random words with extremes and tails.
TEST(KeySwitchKernels, TopDigitTransformFromTheInputs) {
  std::mt19937_64 rng(53);
  const std::size_t n = 2048;
  for (const std::uint64_t q : {std::uint64_t{134176769}, generate_ntt_primes(30, 1, n)[0]}) {
    const NttTables tables(n, Modulus(q));
    for (const int w : {14, 15}) {
      auto c = residues(n, q, rng);
      std::vector<std::uint64_t> d0(n), d1(n);
      gadget_digit_lift(c.data(), GadgetDigit{q, w, 2, 0}, q, d0.data(), n);
      gadget_digit_lift(c.data(), GadgetDigit{q, w, 2, 1}, q, d1.data(), n);
      ntt_forward_reference(c.data(), tables);
      ntt_forward_reference(d0.data(), tables);
      ntt_forward_reference(d1.data(), tables);
      std::uint64_t inv = 1;
      for (int b = 0; b < w; ++b) inv = inv * ((q + 1) / 2) % q;
      const std::vector<std::uint32_t> d0_32(d0.begin(), d0.end());
      for (int set = 0; set < 3; ++set) {
        set_avx512_enabled(set == 0);
        set_simd_enabled(set != 2);
        std::vector<std::uint32_t> top(n, 7);
        gadget_top_digit_ntt_u32(c.data(), d0_32.data(), static_cast<std::uint32_t>(inv), top.data(), n,
                                 static_cast<std::uint32_t>(q));
        ASSERT_EQ(std::vector<std::uint64_t>(top.begin(), top.end()), d1) << "q " << q << " w " << w << " set " << set;
      }
      set_avx512_enabled(true);
      set_simd_enabled(true);
    }
    for (const std::size_t size : kSizes) {
      const auto a = residues(size, q, rng);
      const auto b = residues(size, q, rng);
      const std::vector<std::uint32_t> b32(b.begin(), b.end());
      const auto inv = static_cast<std::uint32_t>(rng() % q);
      std::vector<std::uint32_t> got(size), want(size);
      gadget_top_digit_ntt_u32(a.data(), b32.data(), inv, got.data(), size, static_cast<std::uint32_t>(q));
      gadget_top_digit_ntt_u32_reference(a.data(), b32.data(), inv, want.data(), size, static_cast<std::uint32_t>(q));
      ASSERT_EQ(got, want) << "n " << size;
    }
  }
}
