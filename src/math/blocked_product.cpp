#include "math/blocked_product.h"

#include <algorithm>
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

// How much of the next slice to prefetch: all of a GPT-2 slice (36 x 32
// units, 63 KB), at most 256 KiB of one up to 512 KiB, none of a larger one,
// whose unpacked words (1 MB for 256 x 64 units) leave the L2 anyway
// (BM_BlockedProductStreamAhead against BM_BlockedProductStreamPacked,
// Zen 4: x0.80 for 36 x 32, x0.92 for 64 x 128, x1.07 for 256 x 64 with a
// 256 KiB prefetch).
std::size_t ahead_bytes(std::size_t slice_bytes) {
  constexpr std::size_t kMax = std::size_t{256} << 10;
  return slice_bytes > 2 * kMax ? 0 : std::min(slice_bytes, kMax);
}

void blocked_products_packed(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                             std::size_t entries, std::size_t terms, std::uint64_t q,
                             std::uint64_t* const* out, const std::uint8_t* next) noexcept {
  // Medians of bench/math/blocked_product_bench (Zen 4, one thread, 512 MB
  // of packed weights, the GPT-2 and Llama-3.2-1B shapes): the fused AVX2
  // kernel streams at 10.0-11.1 GB/s where unpacking a slice and then
  // multiplying it runs at 6.7-9.2 GB/s with AVX2 and 10.1-10.9 GB/s with
  // AVX-512. So AVX-512 machines keep the two steps (as fast, and the same
  // kernel as more rows use), AVX2 ones fuse them while a row's inputs (M x
  // 128 bytes) stay in the L1 cache: the fused kernel reads them once per
  // entry, and at M = 512 (the Llama embedding lookup's chunks) it was 15%
  // slower than the two steps.
  constexpr std::size_t kFusedMaxTerms = 128;
  if (q < (std::uint64_t{1} << 30)) {
    if (cpu_has_avx512ifma() || (cpu_has_avx2() && terms > kFusedMaxTerms)) {
      thread_local std::vector<std::uint32_t> words;
      words.resize(entries * terms * kSlotBlock);
      if (cpu_has_avx512ifma())
        return blocked_products_unpack_ahead_avx512(x, rows, packed, words.data(), entries, terms, q, out, next,
                                                    ahead_bytes(entries * terms * kPackedUnitBytes));
      unpack_words28(packed, entries * terms, words.data());
      return blocked_products(x, rows, words.data(), entries, terms, q, out);
    }
    if (cpu_has_avx2()) return blocked_products_packed_avx2(x, rows, packed, entries, terms, q, out);
  }
  std::vector<std::uint32_t> w(entries * terms * kSlotBlock);
  unpack_words28_reference(packed, entries * terms, w.data());
  blocked_products_reference(x, rows, w.data(), entries, terms, q, out);
}

void pack_words28(const std::uint32_t* words, std::size_t units, std::uint8_t* packed) noexcept {
  for (std::size_t u = 0; u < units; ++u) {
    std::uint8_t* out = packed + u * kPackedUnitBytes;
    std::fill(out, out + kPackedUnitBytes, std::uint8_t{0});
    for (std::size_t i = 0; i < kSlotBlock; ++i) {
      const std::uint64_t v = words[u * kSlotBlock + i] & 0x0FFFFFFFu;
      const std::size_t bit = 28 * i;
      for (std::size_t b = 0; b < 5 && bit / 8 + b < kPackedUnitBytes; ++b)
        out[bit / 8 + b] |= static_cast<std::uint8_t>((v << (bit % 8)) >> (8 * b));
    }
  }
}

void unpack_words28_reference(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  for (std::size_t u = 0; u < units; ++u) {
    const std::uint8_t* in = packed + u * kPackedUnitBytes;
    for (std::size_t i = 0; i < kSlotBlock; ++i) {
      const std::size_t bit = 28 * i, byte = bit / 8;
      std::uint32_t v = 0;
      for (std::size_t b = 0; b < 4; ++b) v |= static_cast<std::uint32_t>(in[byte + b]) << (8 * b);
      words[u * kSlotBlock + i] = (v >> (bit % 8)) & 0x0FFFFFFFu;
    }
  }
}

void unpack_words28(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept {
  if (cpu_has_avx512ifma()) return unpack_words28_avx512(packed, units, words);
  if (cpu_has_avx2()) return unpack_words28_avx2(packed, units, words);
  unpack_words28_reference(packed, units, words);
}

}  // namespace fhellm::math
