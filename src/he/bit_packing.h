// Bit packing of coefficient arrays at a fixed width w (1..64 bits).
// Layout: a little-endian bit stream; value i occupies stream bits
// [i*w, (i+1)*w), least significant bit first; stream bit b is bit (b % 8) of
// byte b / 8; unused high bits of the last byte are zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fhellm::he {

inline std::size_t packed_size_bytes(std::size_t count, int width) noexcept {
  return (count * static_cast<std::size_t>(width) + 7) / 8;
}

// Values must be < 2^width (unchecked beyond a debug assert: higher bits are dropped).
void pack_bits(const std::uint64_t* values, std::size_t count, int width, std::uint8_t* out) noexcept;
void unpack_bits(const std::uint8_t* in, std::size_t count, int width, std::uint64_t* out) noexcept;

std::vector<std::uint8_t> pack_bits(std::span<const std::uint64_t> values, int width);

// Bits needed for values in [0, modulus): bit length of modulus - 1 (>= 1).
int bit_width_for_modulus(std::uint64_t modulus) noexcept;

}  // namespace fhellm::he
