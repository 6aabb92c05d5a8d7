#include "math/wide_int.h"

#include <algorithm>
#include <cmath>

#include "math/modulus.h"

namespace fhellm::math {

bool WideInt::is_zero() const noexcept {
  return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
}

WideInt& WideInt::operator+=(const WideInt& o) noexcept {
  unsigned carry = 0;
  for (int i = 0; i < kWords; ++i) {
    const u128 s = static_cast<u128>(words_[i]) + o.words_[i] + carry;
    words_[i] = static_cast<std::uint64_t>(s);
    carry = static_cast<unsigned>(s >> 64);
  }
  return *this;
}

WideInt WideInt::operator-() const noexcept {
  WideInt r;
  for (int i = 0; i < kWords; ++i) r.words_[i] = ~words_[i];
  return r += from_u64(1);
}

WideInt& WideInt::operator-=(const WideInt& o) noexcept { return *this += -o; }

WideInt WideInt::times(std::int64_t v) const noexcept {
  const bool negate = v < 0;
  const std::uint64_t m = negate ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v);
  WideInt r;
  std::uint64_t carry = 0;
  for (int i = 0; i < kWords; ++i) {
    const u128 p = static_cast<u128>(words_[i]) * m + carry;
    r.words_[i] = static_cast<std::uint64_t>(p);
    carry = static_cast<std::uint64_t>(p >> 64);
  }
  return negate ? -r : r;
}

WideInt operator*(const WideInt& a, const WideInt& b) noexcept {
  WideInt r;
  for (int i = 0; i < WideInt::kWords; ++i) {
    std::uint64_t carry = 0;
    for (int j = 0; i + j < WideInt::kWords; ++j) {
      const u128 p = static_cast<u128>(a.words_[i]) * b.words_[j] + r.words_[i + j] + carry;
      r.words_[i + j] = static_cast<std::uint64_t>(p);
      carry = static_cast<std::uint64_t>(p >> 64);
    }
  }
  return r;
}

WideInt WideInt::shifted_right(int bits) const noexcept {
  WideInt r;
  const std::uint64_t fill = is_negative() ? ~std::uint64_t{0} : 0;
  const int word_shift = bits / 64, bit_shift = bits % 64;
  for (int i = 0; i < kWords; ++i) {
    const int src = i + word_shift;
    const std::uint64_t lo = src < kWords ? words_[src] : fill;
    const std::uint64_t hi = src + 1 < kWords ? words_[src + 1] : fill;
    r.words_[i] = bit_shift == 0 ? lo : (lo >> bit_shift) | (hi << (64 - bit_shift));
  }
  return r;
}

std::uint64_t WideInt::mod_word(std::uint64_t m) const noexcept {
  u128 rem = 0;
  for (int i = kWords - 1; i >= 0; --i) rem = ((rem << 64) | words_[i]) % m;
  return static_cast<std::uint64_t>(rem);
}

WideInt WideInt::divided_by(std::uint64_t d) const noexcept {
  WideInt r;
  u128 rem = 0;
  for (int i = kWords - 1; i >= 0; --i) {
    const u128 cur = (rem << 64) | words_[i];
    r.words_[i] = static_cast<std::uint64_t>(cur / d);
    rem = cur % d;
  }
  return r;
}

bool operator<(const WideInt& a, const WideInt& b) noexcept {
  const bool na = a.is_negative(), nb = b.is_negative();
  if (na != nb) return na;
  for (int i = WideInt::kWords - 1; i >= 0; --i) {
    if (a.words_[i] != b.words_[i]) return a.words_[i] < b.words_[i];
  }
  return false;
}

long double WideInt::to_long_double() const noexcept {
  const WideInt m = abs();
  long double r = 0;
  for (int i = kWords - 1; i >= 0; --i) r = r * 18446744073709551616.0L + static_cast<long double>(m.words_[i]);
  return is_negative() ? -r : r;
}

int WideInt::bit_length() const noexcept {
  const WideInt m = abs();
  for (int i = kWords - 1; i >= 0; --i) {
    if (m.words_[i] != 0) return 64 * i + 64 - __builtin_clzll(m.words_[i]);
  }
  return 0;
}

bool WideInt::fits_i64() const noexcept {
  const std::uint64_t fill = is_negative() ? ~std::uint64_t{0} : 0;
  for (int i = 1; i < kWords; ++i) {
    if (words_[i] != fill) return false;
  }
  return ((words_[0] >> 63) != 0) == is_negative();
}

std::string WideInt::to_string() const {
  if (is_zero()) return "0";
  WideInt m = abs();
  std::string digits;
  while (!m.is_zero()) {
    digits.push_back(static_cast<char>('0' + m.mod_word(10)));
    m = m.divided_by(10);
  }
  if (is_negative()) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

}  // namespace fhellm::math
