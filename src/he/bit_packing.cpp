#include "he/bit_packing.h"

#include <cassert>
#include <cstring>

namespace fhellm::he {

void pack_bits(const std::uint64_t* values, std::size_t count, int width, std::uint8_t* out) noexcept {
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

void unpack_bits(const std::uint8_t* in, std::size_t count, int width, std::uint64_t* out) noexcept {
  const std::uint64_t mask = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
  unsigned __int128 buffer = 0;
  int held = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
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
