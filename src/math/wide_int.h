// WideInt: a fixed 512-bit two's-complement integer, enough for CRT values of
// up to 8 primes of 61 bits. Used off the hot path only (decoding multi-prime
// phases, tests); every operation wraps modulo 2^512.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace fhellm::math {

class WideInt {
 public:
  static constexpr int kWords = 8;

  WideInt() { words_.fill(0); }
  static WideInt from_u64(std::uint64_t v) {
    WideInt r;
    r.words_[0] = v;
    return r;
  }
  static WideInt from_u128(unsigned __int128 v) {
    WideInt r;
    r.words_[0] = static_cast<std::uint64_t>(v);
    r.words_[1] = static_cast<std::uint64_t>(v >> 64);
    return r;
  }
  static WideInt from_i128(__int128 v) {
    WideInt r = from_u128(static_cast<unsigned __int128>(v < 0 ? -v : v));
    return v < 0 ? -r : r;
  }
  static WideInt from_i64(std::int64_t v) {
    WideInt r;
    r.words_.fill(v < 0 ? ~std::uint64_t{0} : 0);
    r.words_[0] = static_cast<std::uint64_t>(v);
    return r;
  }

  std::uint64_t word(int i) const noexcept { return words_[i]; }
  std::uint64_t& word(int i) noexcept { return words_[i]; }
  bool is_negative() const noexcept { return (words_[kWords - 1] >> 63) != 0; }
  bool is_zero() const noexcept;

  WideInt& operator+=(const WideInt& o) noexcept;
  WideInt& operator-=(const WideInt& o) noexcept;
  WideInt operator-() const noexcept;
  // *this * v for a small signed v.
  WideInt times(std::int64_t v) const noexcept;
  // Full product, truncated to 512 bits (two's complement, any signs).
  friend WideInt operator*(const WideInt& a, const WideInt& b) noexcept;
  WideInt shifted_right(int bits) const noexcept;  // arithmetic shift
  // Remainder by a word: value mod m in [0, m) (for non-negative values).
  std::uint64_t mod_word(std::uint64_t m) const noexcept;
  // Quotient by a word (for non-negative values).
  WideInt divided_by(std::uint64_t d) const noexcept;

  friend bool operator<(const WideInt& a, const WideInt& b) noexcept;  // signed
  friend bool operator==(const WideInt& a, const WideInt& b) noexcept { return a.words_ == b.words_; }
  friend WideInt operator+(WideInt a, const WideInt& b) noexcept { return a += b; }
  friend WideInt operator-(WideInt a, const WideInt& b) noexcept { return a -= b; }

  WideInt abs() const noexcept { return is_negative() ? -*this : *this; }
  // Approximate value (exact below 2^64 in magnitude).
  long double to_long_double() const noexcept;
  // Number of significant bits of |value| (0 for zero).
  int bit_length() const noexcept;
  // True when the value fits in int64; then to_i64 is exact.
  bool fits_i64() const noexcept;
  std::int64_t to_i64() const noexcept { return static_cast<std::int64_t>(words_[0]); }
  std::string to_string() const;

 private:
  std::array<std::uint64_t, kWords> words_;
};

}  // namespace fhellm::math
