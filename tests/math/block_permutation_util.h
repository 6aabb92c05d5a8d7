// Random permutations of n slots that keep slot blocks (every block of
// kSlotBlock output slots reads one source block, as NTT-form automorphisms
// do: blocked_permutation_keeps_blocks), for the kernels that rely on it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "math/blocked_product.h"

namespace fhellm::math::test_util {

struct BlockPermutation {
  std::vector<std::uint32_t> perm;        // output slot j reads source slot perm[j]
  std::vector<std::uint32_t> dest_block;  // source block s feeds output block dest_block[s]
};

// The blocks shuffled, and the slots within each block.
inline BlockPermutation random_block_permutation(std::size_t n, std::mt19937_64& rng) {
  const std::size_t blocks = n / kSlotBlock;
  std::vector<std::uint32_t> order(blocks);
  for (std::uint32_t b = 0; b < blocks; ++b) order[b] = b;
  std::shuffle(order.begin(), order.end(), rng);
  BlockPermutation out{std::vector<std::uint32_t>(n), std::vector<std::uint32_t>(blocks)};
  std::vector<std::uint32_t> within(kSlotBlock);
  for (std::size_t b = 0; b < blocks; ++b) {
    for (std::uint32_t s = 0; s < kSlotBlock; ++s) within[s] = s;
    std::shuffle(within.begin(), within.end(), rng);
    for (std::size_t s = 0; s < kSlotBlock; ++s) out.perm[b * kSlotBlock + s] = order[b] * kSlotBlock + within[s];
    out.dest_block[order[b]] = static_cast<std::uint32_t>(b);
  }
  return out;
}

}  // namespace fhellm::math::test_util
