#include "math/blocked_product.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "math/cpu_features.h"
#include "math/blocked_product_simd.h"

namespace fhellm::math {

std::size_t blocked_products_run(std::uint64_t q) noexcept {
  // Terms whose products (each <= (q-1)^2), plus a carried value < q, fit in
  // 64 bits: at least 1023 for 27-bit primes, at least 16 below 2^30.
  const unsigned __int128 square = static_cast<unsigned __int128>(q - 1) * (q - 1);
  if (square == 0) return 4096;
  const unsigned __int128 room = (~static_cast<unsigned __int128>(0) >> 64) - q;
  return static_cast<std::size_t>(room / square);
}

void blocked_products_reference(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                                std::size_t entries, std::size_t terms, std::uint64_t q,
                                std::uint64_t* const* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t e = 0; e < entries; ++e)
      for (std::size_t p = 0; p < 2; ++p)
        for (std::size_t s = 0; s < kSlotBlock; ++s) {
          const std::size_t word = blocked_slot_word(s);
          unsigned __int128 sum = 0;
          for (std::size_t m = 0; m < terms; ++m)
            sum += static_cast<std::uint64_t>(x[r][(m * 2 + p) * kSlotBlock + word]) *
                   w[(e * terms + m) * kSlotBlock + word];
          out[(r * entries + e) * 2 + p][s] = static_cast<std::uint64_t>(sum % q);
        }
}

void blocked_products(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w, std::size_t entries,
                      std::size_t terms, std::uint64_t q, std::uint64_t* const* out) noexcept {
  if (q < (std::uint64_t{1} << 30)) {
    if (cpu_has_avx512ifma()) return blocked_products_avx512(x, rows, w, entries, terms, q, out);
    if (cpu_has_avx2()) return blocked_products_avx2(x, rows, w, entries, terms, q, out);
  }
  blocked_products_reference(x, rows, w, entries, terms, q, out);
}

constexpr std::size_t kReadAheadBytes = std::size_t{32} << 10;

void blocked_products_packed(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                             std::size_t entries, std::size_t terms, std::uint64_t q,
                             std::uint64_t* const* out, const std::uint8_t* next) noexcept {
  // Each unit unpacked in registers where it is multiplied, the weights
  // prefetched 32 KiB ahead of the reads (into the next slice at the end of
  // this one). bench/math/blocked_product_bench (Intel Xeon, one thread, 512 MB of
  // packed weights; BM_BlockedProductStreamAhead against unpacking each
  // slice and then multiplying it, BM_BlockedProductStream): AVX-512
  // 11.5-12.9 GB/s against 7.1-8.5, AVX2 9.4-10.2 against 5.7-6.3, for
  // every shape from 36 x 32 units (GPT-2, 63 KB slices) to 400 x 64 (the
  // GPT-2 LM head, 1.4 MB); the plain read of the same bytes runs at
  // 11.6-12.8 GB/s. A whole slice ahead was as good for small slices and
  // lost up to a third on large ones (its lines left the L2 before use);
  // 16-64 KiB ahead measured alike. Without prefetching the fused kernels
  // wait on the memory (5.0-6.1 GB/s).
  if (q < (std::uint64_t{1} << 30)) {
    if (cpu_has_avx512ifma())
      return blocked_products_packed_avx512(x, rows, packed, entries, terms, q, out, next, kReadAheadBytes);
    if (cpu_has_avx2()) return blocked_products_packed_avx2(x, rows, packed, entries, terms, q, out, next, kReadAheadBytes);
  }
  std::vector<std::uint32_t> w(entries * terms * kSlotBlock);
  unpack_words27_reference(packed, entries * terms, w.data());
  blocked_products_reference(x, rows, w.data(), entries, terms, q, out);
}

constexpr std::uint32_t kLow27 = (std::uint32_t{1} << kPackedWordBits) - 1;

void pack_words27(const std::uint32_t* words, std::size_t units, std::uint8_t* packed) noexcept {
  for (std::size_t u = 0; u < units; ++u) {
    std::uint8_t* out = packed + u * kPackedUnitBytes;
    std::fill(out, out + kPackedUnitBytes, std::uint8_t{0});
    for (std::size_t i = 0; i < kSlotBlock; ++i) {
      const std::uint64_t v = words[u * kSlotBlock + i] & kLow27;
      const std::size_t bit = kPackedWordBits * i;
      for (std::size_t b = 0; b < 5 && bit / 8 + b < kPackedUnitBytes; ++b)
        out[bit / 8 + b] |= static_cast<std::uint8_t>((v << (bit % 8)) >> (8 * b));
    }
  }
}

void unpack_words27_reference(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  for (std::size_t u = 0; u < units; ++u) {
    const std::uint8_t* in = packed + u * kPackedUnitBytes;
    for (std::size_t i = 0; i < kSlotBlock; ++i) {
      const std::size_t bit = kPackedWordBits * i, byte = bit / 8;
      std::uint64_t v = 0;  // a field reaches into a fifth byte at bit offsets 6 and 7
      for (std::size_t b = 0; b < 5 && byte + b < kPackedUnitBytes; ++b)
        v |= static_cast<std::uint64_t>(in[byte + b]) << (8 * b);
      words[u * kSlotBlock + i] = static_cast<std::uint32_t>(v >> (bit % 8)) & kLow27;
    }
  }
}

void unpack_words27(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  if (cpu_has_avx512ifma()) return unpack_words27_avx512(packed, units, words);
  if (cpu_has_avx2()) return unpack_words27_avx2(packed, units, words);
  unpack_words27_reference(packed, units, words);
}

void gather_blocked_narrow_reference(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                     std::uint32_t* dst, std::size_t dst_stride) noexcept {
  for (std::size_t b = 0; b < n / kSlotBlock; ++b)
    for (std::size_t s = 0; s < kSlotBlock; ++s)
      dst[b * dst_stride + blocked_slot_word(s)] = static_cast<std::uint32_t>(src[perm[b * kSlotBlock + s]]);
}

bool blocked_permutation_keeps_blocks(const std::uint32_t* perm, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j)
    if (perm[j] / kSlotBlock != perm[j - j % kSlotBlock] / kSlotBlock) return false;
  return true;
}

void gather_blocked_narrow(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n, std::uint32_t* dst,
                           std::size_t dst_stride) noexcept {
  // A precondition, not a check: a pass over perm would cost as much as the
  // gather (the tests check every automorphism of both parameter sets).
  assert(blocked_permutation_keeps_blocks(perm, n));
  if (cpu_has_avx512ifma()) return gather_blocked_narrow_avx512(src, perm, n, dst, dst_stride);
  if (cpu_has_avx2()) return gather_blocked_narrow_avx2(src, perm, n, dst, dst_stride);
  gather_blocked_narrow_reference(src, perm, n, dst, dst_stride);
}

}  // namespace fhellm::math
