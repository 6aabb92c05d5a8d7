#include "he/bit_packing.h"

#include <bit>
#include <cassert>
#include <cstring>

namespace fhellm::he {

namespace {

static_assert(std::endian::native == std::endian::little, "the 64-bit word paths read and write little-endian words");

// Widths up to this one take 64-bit words: a value and its bit offset in a
// byte (<= 7) fit one word.
constexpr int kWordPathMaxWidth = 56;

// Byte at a time, any width (1..64).
void pack_bits_bytes(const std::uint64_t* values, std::size_t count, int width, std::uint8_t* out) noexcept {
  const std::uint64_t mask = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
  unsigned __int128 buffer = 0;
  int held = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    assert((values[i] & ~mask) == 0);
    buffer |= static_cast<unsigned __int128>(values[i] & mask) << held;
    held += width;
    while (held >= 8) {
      out[pos++] = static_cast<std::uint8_t>(buffer);
      buffer >>= 8;
      held -= 8;
    }
  }
  if (held > 0) out[pos] = static_cast<std::uint8_t>(buffer);
}

}  // namespace

void pack_bits(const std::uint64_t* values, std::size_t count, int width, std::uint8_t* out) noexcept {
  if (width > kWordPathMaxWidth) return pack_bits_bytes(values, count, width, out);
  // Whole 64-bit words of the stream as they fill, then the last bytes.
  const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
  std::uint64_t word = 0;
  int held = 0;  // < 64
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    assert((values[i] & ~mask) == 0);
    const std::uint64_t v = values[i] & mask;
    word |= v << held;
    held += width;
    if (held >= 64) {
      std::memcpy(out + pos, &word, 8);
      pos += 8;
      held -= 64;
      word = held > 0 ? v >> (width - held) : 0;  // the bits that did not fit
    }
  }
  for (; held > 0; held -= 8, word >>= 8) out[pos++] = static_cast<std::uint8_t>(word);
}

void unpack_bits(const std::uint8_t* in, std::size_t count, int width, std::uint64_t* out) noexcept {
  const std::size_t total = packed_size_bytes(count, width);
  const std::uint64_t mask = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
  std::size_t i = 0;
  if (width <= kWordPathMaxWidth) {
    // One unaligned 64-bit read per value while it lies inside the stream.
    for (; i < count; ++i) {
      const std::size_t bit = i * static_cast<std::size_t>(width), byte = bit / 8;
      if (byte + 8 > total) break;
      std::uint64_t word;
      std::memcpy(&word, in + byte, 8);
      out[i] = (word >> (bit % 8)) & mask;
    }
  }
  // The rest byte at a time.
  unsigned __int128 buffer = 0;
  int held = 0;
  const std::size_t first_bit = i * static_cast<std::size_t>(width);
  std::size_t pos = first_bit / 8;
  if (i < count && first_bit % 8 != 0) {
    buffer = in[pos++] >> (first_bit % 8);
    held = 8 - static_cast<int>(first_bit % 8);
  }
  for (; i < count; ++i) {
    while (held < width) {
      buffer |= static_cast<unsigned __int128>(in[pos++]) << held;
      held += 8;
    }
    out[i] = static_cast<std::uint64_t>(buffer) & mask;
    buffer >>= width;
    held -= width;
  }
}

std::vector<std::uint8_t> pack_bits(std::span<const std::uint64_t> values, int width) {
  std::vector<std::uint8_t> out(packed_size_bytes(values.size(), width), 0);
  pack_bits(values.data(), values.size(), width, out.data());
  return out;
}

int bit_width_for_modulus(std::uint64_t modulus) noexcept {
  if (modulus <= 2) return 1;
  return 64 - __builtin_clzll(modulus - 1);
}

}  // namespace fhellm::he
