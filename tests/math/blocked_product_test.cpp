// Blocked products (blocked_product.h): the dispatched kernels (AVX-512 or
// AVX2 where present; the fused one on packed weights, with and without a next slice read ahead) against the plain reference and against sums computed
// here, over row and entry counts that exercise every tile and tail, term
// counts past the 64-bit run (reductions between runs), and extreme values.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "block_permutation_util.h"
#include "math/blocked_product.h"
#include "math/cpu_features.h"
#include "math/ntt.h"

using namespace fhellm::math;

namespace {

struct Case {
  std::size_t rows, entries, terms;
  std::uint64_t q;
};

std::uint32_t draw(std::mt19937_64& rng, std::uint64_t q) {
  const std::uint64_t pick = rng() % 8;
  return static_cast<std::uint32_t>(pick == 0 ? q - 1 : pick == 1 ? 0 : rng() % q);
}

void check(const Case& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::uint32_t>> x(c.rows, std::vector<std::uint32_t>(c.terms * 2 * kSlotBlock));
  for (auto& row : x)
    for (auto& v : row) v = draw(rng, c.q);
  std::vector<std::uint32_t> w(c.entries * c.terms * kSlotBlock);
  for (auto& v : w) v = draw(rng, c.q);
  std::vector<const std::uint32_t*> xp;
  for (const auto& row : x) xp.push_back(row.data());
  std::vector<std::vector<std::uint64_t>> fast(c.rows, std::vector<std::uint64_t>(c.entries * 2 * kSlotBlock, 7)),
      slow = fast;
  // One destination per (row, entry, part): here the runs of each row's
  // vector, entries in reverse order, so a kernel that wrote past a run or
  // to the wrong destination would show.
  std::vector<std::uint64_t*> fp, sp;
  for (std::size_t r = 0; r < c.rows; ++r)
    for (std::size_t e = 0; e < c.entries; ++e)
      for (std::size_t p = 0; p < 2; ++p) {
        const std::size_t at = ((c.entries - 1 - e) * 2 + p) * kSlotBlock;
        fp.push_back(fast[r].data() + at);
        sp.push_back(slow[r].data() + at);
      }
  blocked_products(xp.data(), c.rows, w.data(), c.entries, c.terms, c.q, fp.data());
  blocked_products_reference(xp.data(), c.rows, w.data(), c.entries, c.terms, c.q, sp.data());
  // The fused kernel on the same weights packed (27-bit fields: q < 2^27).
  const bool packs = c.q < (std::uint64_t{1} << 27);
  std::vector<std::uint8_t> packed(c.entries * c.terms * kPackedUnitBytes + kPackedSlackBytes, 0xCD);
  pack_words27(w.data(), c.entries * c.terms, packed.data());
  std::vector<std::vector<std::uint64_t>> fused(c.rows, std::vector<std::uint64_t>(c.entries * 2 * kSlotBlock, 7));
  std::vector<std::uint64_t*> up;
  for (std::size_t r = 0; r < c.rows; ++r)
    for (std::size_t e = 0; e < c.entries; ++e)
      for (std::size_t p = 0; p < 2; ++p) up.push_back(fused[r].data() + ((c.entries - 1 - e) * 2 + p) * kSlotBlock);
  blocked_products_packed(xp.data(), c.rows, packed.data(), c.entries, c.terms, c.q, up.data());
  // And with a next slice to read ahead (another copy of the weights): the
  // same sums.
  const std::vector<std::uint8_t> next = packed;
  std::vector<std::vector<std::uint64_t>> ahead(c.rows, std::vector<std::uint64_t>(c.entries * 2 * kSlotBlock, 7));
  std::vector<std::uint64_t*> ap;
  for (std::size_t r = 0; r < c.rows; ++r)
    for (std::size_t e = 0; e < c.entries; ++e)
      for (std::size_t p = 0; p < 2; ++p) ap.push_back(ahead[r].data() + ((c.entries - 1 - e) * 2 + p) * kSlotBlock);
  blocked_products_packed(xp.data(), c.rows, packed.data(), c.entries, c.terms, c.q, ap.data(), next.data());
  for (std::size_t r = 0; r < c.rows; ++r) {
    if (packs) {
      ASSERT_EQ(ahead[r], fused[r]) << "read ahead: rows " << c.rows << " entries " << c.entries << " row " << r;
    }
    ASSERT_EQ(fast[r], slow[r]) << "rows " << c.rows << " entries " << c.entries << " terms " << c.terms << " row " << r;
    if (packs) {
      ASSERT_EQ(fused[r], slow[r]) << "packed: rows " << c.rows << " entries " << c.entries << " terms " << c.terms
                                   << " row " << r;
    }
    // One sum recomputed here, in slot order, from the documented layout.
    const std::size_t e = c.entries - 1, p = 1, s = kSlotBlock - 1;  // stored first (reverse order)
    unsigned __int128 sum = 0;
    for (std::size_t m = 0; m < c.terms; ++m)
      sum += static_cast<unsigned __int128>(x[r][(m * 2 + p) * kSlotBlock + blocked_slot_word(s)]) *
             w[(e * c.terms + m) * kSlotBlock + blocked_slot_word(s)];
    EXPECT_EQ(slow[r][(0 * 2 + p) * kSlotBlock + s], static_cast<std::uint64_t>(sum % c.q));
  }
}

}  // namespace

TEST(BlockedProducts, KernelMatchesReference) {
  const std::uint64_t q27 = 134176769, q30 = (std::uint64_t{1} << 30) - 35;  // primes below 2^27 and 2^30
  std::uint64_t seed = 1;
  for (const Case& c : {Case{1, 1, 1, q27}, Case{1, 5, 3, q27}, Case{3, 7, 64, q27}, Case{8, 32, 32, q27},
                        Case{16, 9, 129, q27}, Case{2, 4, 2100, q27}, Case{5, 6, 40, q30}})
    check(c, seed++);
}

TEST(BlockedProducts, EveryKernelSetAgrees) {
  // AVX2 on an AVX-512 machine, then the plain path (where the CPU has them).
  set_avx512_enabled(false);
  check({4, 6, 50, 134176769}, 99);
  check({3, 5, 1500, 134176769}, 100);
  set_avx512_enabled(true);
  set_simd_enabled(false);
  check({4, 6, 50, 134176769}, 101);
  set_simd_enabled(true);
}

TEST(BlockedProducts, SlotWordsInterleaveTheHalves) {
  for (std::size_t s = 0; s < kSlotBlock / 2; ++s) {
    EXPECT_EQ(blocked_slot_word(s), 2 * s);
    EXPECT_EQ(blocked_slot_word(s + kSlotBlock / 2), 2 * s + 1);
  }
}

// Weights at rest in 27-bit fields: pack then unpack gives the words back for
// every kernel set (AVX-512 VBMI, AVX2, plain), the extremes 0 and 2^27 - 1
// included (every bit offset of a byte occurs), and a unit takes 54 bytes.
TEST(BlockedProducts, Words27RoundTrip) {
  std::mt19937_64 rng(7);
  const std::size_t units = 37;
  std::vector<std::uint32_t> words(units * kSlotBlock);
  for (std::size_t i = 0; i < words.size(); ++i)
    words[i] = i % 5 == 0 ? 0x07FFFFFFu : i % 7 == 0 ? 0u : static_cast<std::uint32_t>(rng() & 0x07FFFFFFu);
  std::vector<std::uint8_t> packed(units * kPackedUnitBytes + kPackedSlackBytes, 0xAB);
  pack_words27(words.data(), units, packed.data());
  EXPECT_EQ(kPackedUnitBytes, 54u);
  for (int set = 0; set < 3; ++set) {
    set_avx512_enabled(set == 0);
    set_simd_enabled(set != 2);
    std::vector<std::uint32_t> back(words.size(), 1);
    unpack_words27(packed.data(), units, back.data());
    EXPECT_EQ(back, words) << "kernel set " << set;
  }
  set_avx512_enabled(true);
  set_simd_enabled(true);
  std::vector<std::uint32_t> ref(words.size());
  unpack_words27_reference(packed.data(), units, ref.data());
  EXPECT_EQ(ref, words);
}

// NTT-form automorphisms map each block of kSlotBlock slots from a single
// source block (gather_blocked_narrow's precondition), for every Galois
// element of N = 2048 and 4096; a permutation that mixes two blocks is told
// apart.
TEST(BlockedProducts, AutomorphismsKeepSlotBlocks) {
  for (const std::size_t n : {std::size_t{2048}, std::size_t{4096}}) {
    for (std::uint64_t g = 3; g < 2 * n; g += 2) {
      const auto perm = ntt_automorphism_permutation(n, g);
      ASSERT_TRUE(blocked_permutation_keeps_blocks(perm.data(), n)) << "N " << n << " g " << g;
    }
  }
  std::vector<std::uint32_t> mixed(64);
  for (std::uint32_t j = 0; j < 64; ++j) mixed[j] = j;
  std::swap(mixed[3], mixed[40]);
  EXPECT_FALSE(blocked_permutation_keeps_blocks(mixed.data(), mixed.size()));
}

// gather_blocked_narrow against values placed here: blocks in a shuffled
// order, a random permutation within each, the destination blocks apart
// (their gaps untouched), 32-bit extremes, every kernel set.
TEST(BlockedProducts, GatherBlockedNarrowPlacesPermutedSlots) {
  std::mt19937_64 rng(12);
  const std::size_t n = 512, blocks = n / kSlotBlock, stride = 3 * kSlotBlock;
  const std::vector<std::uint32_t> perm = test_util::random_block_permutation(n, rng).perm;
  std::vector<std::uint64_t> src(n);
  for (std::size_t j = 0; j < n; ++j) src[j] = j % 9 == 0 ? 0xFFFFFFFFu : j % 11 == 0 ? 0u : rng() & 0xFFFFFFFFu;
  std::vector<std::uint32_t> expect(blocks * stride, 0x5A5A5A5Au);
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::size_t s = 0; s < kSlotBlock; ++s)
      expect[b * stride + blocked_slot_word(s)] = static_cast<std::uint32_t>(src[perm[b * kSlotBlock + s]]);
  std::vector<std::uint32_t> ref(blocks * stride, 0x5A5A5A5Au);
  gather_blocked_narrow_reference(src.data(), perm.data(), n, ref.data(), stride);
  EXPECT_EQ(ref, expect);
  for (int set = 0; set < 3; ++set) {
    set_avx512_enabled(set == 0);
    set_simd_enabled(set != 2);
    std::vector<std::uint32_t> out(blocks * stride, 0x5A5A5A5Au);
    gather_blocked_narrow(src.data(), perm.data(), n, out.data(), stride);
    EXPECT_EQ(out, expect) << "kernel set " << set;
  }
  set_avx512_enabled(true);
  set_simd_enabled(true);
}
