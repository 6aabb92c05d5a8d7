// The plaintext x ciphertext products of the encrypted matrix product's
// server, blocked over NTT slots so that one weight word meets every row of a
// call while it is in cache, and the sums stay in registers across all terms.
//
// Data of one prime and one block of kSlotBlock NTT slots, 32-bit words < q:
//   x[r]  (row r):  terms x 2 x kSlotBlock   (input ct m's c0 then c1)
//   w:              entries x terms x kSlotBlock
// Within a block the slots are stored in the order of blocked_slot_word
// (s0, s8, s1, s9, ..., s7, s15), so that the even and odd 32-bit words of a
// vector are the block's first and second halves (vpmuludq takes the even
// ones) and the sums leave in slot order without a shuffle.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

inline constexpr std::size_t kSlotBlock = 16;

// Word of slot s (< kSlotBlock) within its block.
constexpr std::size_t blocked_slot_word(std::size_t s) noexcept {
  return s < kSlotBlock / 2 ? 2 * s : 2 * (s - kSlotBlock / 2) + 1;
}

// For every row r < rows and entry e < entries, part p in {0, 1}, slot s:
//   out[r][(e * 2 + p) * kSlotBlock + s] = sum_m x[r][m][p][s] * w[e][m][s] mod q
// (slot order, 64-bit words in [0, q)). q < 2^30; terms <= 4096.
void blocked_products(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w, std::size_t entries,
                      std::size_t terms, std::uint64_t q, std::uint64_t* const* out) noexcept;

// The plain version of the same contract (tests compare the SIMD ones with it).
void blocked_products_reference(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                                std::size_t entries, std::size_t terms, std::uint64_t q,
                                std::uint64_t* const* out) noexcept;

}  // namespace fhellm::math
