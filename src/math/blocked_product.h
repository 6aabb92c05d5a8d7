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
//   out[(r * entries + e) * 2 + p][s] = sum_m x[r][m][p][s] * w[e][m][s] mod q
// (slot order, 64-bit words in [0, q)). q < 2^30; terms <= 4096. Each
// destination is where the caller keeps those 16 slots (the block's run of
// a ciphertext's residues), so nothing is copied after.
void blocked_products(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w, std::size_t entries,
                      std::size_t terms, std::uint64_t q, std::uint64_t* const* out) noexcept;

// The plain version of the same contract (tests compare the SIMD ones with it).
void blocked_products_reference(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                                std::size_t entries, std::size_t terms, std::uint64_t q,
                                std::uint64_t* const* out) noexcept;

// Weights at rest: units of kSlotBlock words below 2^27 (the primes of the
// 32-bit sets) packed into 27-bit fields, kPackedUnitBytes bytes a unit
// instead of 64 (word i at bits 27 i .. 27 i + 26, little-endian; a unit is
// whole bytes, so units can be written apart).
inline constexpr int kPackedWordBits = 27;
inline constexpr std::size_t kPackedUnitBytes = kSlotBlock * kPackedWordBits / 8;
// Bytes to allocate past the last unit: the SIMD unpack reads a whole vector.
inline constexpr std::size_t kPackedSlackBytes = 64;

// blocked_products with w given packed (entries x terms units of
// kPackedUnitBytes, kPackedSlackBytes readable past the last), for one row
// (decoding): each unit is unpacked in registers where it is multiplied,
// and the weights are prefetched into the L2 cache a little ahead of the
// reads, past this slice into `next`, the slice of the same size the caller
// passes next (null: none), so the memory streams while the core computes.
// More rows reuse an unpacked slice (unpack_words27).
void blocked_products_packed(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                             std::size_t entries, std::size_t terms, std::uint64_t q,
                             std::uint64_t* const* out, const std::uint8_t* next = nullptr) noexcept;

// `units` units: words (each < 2^27) -> packed bytes, and back.
void pack_words27(const std::uint32_t* words, std::size_t units, std::uint8_t* packed) noexcept;
void unpack_words27(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;
void unpack_words27_reference(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;

// An NTT-form automorphism's output into the blocked layout: for each block b
// < n / kSlotBlock, the kSlotBlock words at dst + b * dst_stride (in
// blocked_slot_word order) are src[perm[b * kSlotBlock + s]], s < kSlotBlock,
// narrowed to 32 bits (src values < 2^32). The SIMD kernels need every block
// of perm to read one source block, which NTT-form automorphisms do (slot
// block b holds the roots zeta^(e_b + 256 t), t < 16, and X -> X^g maps them
// to the roots of one block): a precondition of gather_blocked_narrow (checked
// by assert; blocked_permutation_keeps_blocks), not of the reference loop.
// n a multiple of kSlotBlock.
void gather_blocked_narrow(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n, std::uint32_t* dst,
                           std::size_t dst_stride) noexcept;
void gather_blocked_narrow_reference(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                     std::uint32_t* dst, std::size_t dst_stride) noexcept;
// True when every block of perm (n entries) reads a single source block.
bool blocked_permutation_keeps_blocks(const std::uint32_t* perm, std::size_t n) noexcept;

}  // namespace fhellm::math
