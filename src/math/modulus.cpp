#include "math/modulus.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::math {

Modulus::Modulus(std::uint64_t value) : value_(value) {
  require(value >= 2 && value < (std::uint64_t{1} << kMaxBits), ErrorCode::invalid_argument,
          "modulus " + std::to_string(value) + " is outside [2, 2^61)");
  bit_count_ = 64 - __builtin_clzll(value);
  // floor(2^128 / q) = floor((2^128 - 1) / q) unless q divides 2^128, that is
  // unless q is a power of two.
  const u128 all_ones = ~static_cast<u128>(0);
  u128 ratio = all_ones / value;
  if ((value & (value - 1)) == 0) ratio += 1;  // power of two: 2^128/q exactly
  ratio_hi_ = static_cast<std::uint64_t>(ratio >> 64);
  ratio_lo_ = static_cast<std::uint64_t>(ratio);
}

std::uint64_t Modulus::pow(std::uint64_t a, std::uint64_t e) const noexcept {
  std::uint64_t result = 1 % value_;
  a = reduce(a);
  while (e) {
    if (e & 1) result = mul(result, a);
    a = mul(a, a);
    e >>= 1;
  }
  return result;
}

std::uint64_t Modulus::inverse(std::uint64_t a) const {
  // Extended Euclid on signed 128-bit values.
  __int128 t = 0, new_t = 1;
  __int128 r = value_, new_r = reduce(a);
  while (new_r != 0) {
    const __int128 quotient = r / new_r;
    __int128 tmp = t - quotient * new_t;
    t = new_t;
    new_t = tmp;
    tmp = r - quotient * new_r;
    r = new_r;
    new_r = tmp;
  }
  require(r == 1, ErrorCode::invalid_argument, "value has no inverse modulo " + std::to_string(value_));
  if (t < 0) t += value_;
  return static_cast<std::uint64_t>(t);
}

}  // namespace fhellm::math
