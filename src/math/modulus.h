// Modular arithmetic for word-sized moduli: Barrett reduction of 64- and
// 128-bit values and Shoup's multiplication by a precomputed constant.
//
// Domain: every Modulus q satisfies 2 <= q < 2^61, so that 4q < 2^63 (the lazy
// NTT keeps values in [0, 4q) and the AVX2 kernels compare them as signed
// 64-bit integers). Unless a function says "lazy", inputs and outputs are in
// [0, q).
//
// References: P. Barrett, CRYPTO'86; V. Shoup, NTL (MulModPrecon);
// D. Harvey, "Faster arithmetic for number-theoretic transforms", 2014.
#pragma once

#include <cstdint>

namespace fhellm::math {

using u128 = unsigned __int128;

inline std::uint64_t mul_hi64(std::uint64_t a, std::uint64_t b) noexcept {
  return static_cast<std::uint64_t>((static_cast<u128>(a) * b) >> 64);
}

// A word-sized modulus with its Barrett constant floor(2^128 / q).
class Modulus {
 public:
  static constexpr int kMaxBits = 61;

  Modulus() = default;
  // @throws Error(invalid_argument) unless 2 <= value < 2^61.
  explicit Modulus(std::uint64_t value);

  std::uint64_t value() const noexcept { return value_; }
  int bit_count() const noexcept { return bit_count_; }
  // floor(2^128 / q) as (high word, low word).
  std::uint64_t ratio_hi() const noexcept { return ratio_hi_; }
  std::uint64_t ratio_lo() const noexcept { return ratio_lo_; }

  // x mod q for any 64-bit x.
  std::uint64_t reduce(std::uint64_t x) const noexcept {
    // q_est = floor(x * floor(2^64/q) / 2^64) is floor(x/q) or one less.
    std::uint64_t r = x - mul_hi64(x, ratio_hi_) * value_;
    return r >= value_ ? r - value_ : r;
  }

  // x mod q for x < 2^64 * q (always true for a product of two values < q).
  std::uint64_t reduce(u128 x) const noexcept {
    const std::uint64_t x0 = static_cast<std::uint64_t>(x);
    const std::uint64_t x1 = static_cast<std::uint64_t>(x >> 64);
    // floor(x * ratio / 2^128), exactly, from the four partial products.
    const u128 low = static_cast<u128>(x0) * ratio_lo_;
    const u128 mid_a = static_cast<u128>(x0) * ratio_hi_;
    const u128 mid_b = static_cast<u128>(x1) * ratio_lo_;
    const u128 mid = (low >> 64) + static_cast<std::uint64_t>(mid_a) + static_cast<std::uint64_t>(mid_b);
    const std::uint64_t q_est =
        x1 * ratio_hi_ + static_cast<std::uint64_t>(mid_a >> 64) + static_cast<std::uint64_t>(mid_b >> 64) +
        static_cast<std::uint64_t>(mid >> 64);
    // q_est is floor(x/q) or one less, so the remainder is in [0, 2q).
    std::uint64_t r = x0 - q_est * value_;
    return r >= value_ ? r - value_ : r;
  }

  std::uint64_t add(std::uint64_t a, std::uint64_t b) const noexcept {
    std::uint64_t s = a + b;
    return s >= value_ ? s - value_ : s;
  }
  std::uint64_t sub(std::uint64_t a, std::uint64_t b) const noexcept {
    return a >= b ? a - b : a + value_ - b;
  }
  std::uint64_t negate(std::uint64_t a) const noexcept { return a == 0 ? 0 : value_ - a; }
  std::uint64_t mul(std::uint64_t a, std::uint64_t b) const noexcept {
    return reduce(static_cast<u128>(a) * b);
  }
  // a^e mod q.
  std::uint64_t pow(std::uint64_t a, std::uint64_t e) const noexcept;
  // a^-1 mod q. @throws Error(invalid_argument) when gcd(a, q) != 1.
  std::uint64_t inverse(std::uint64_t a) const;

  // Signed integer -> [0, q).
  std::uint64_t from_signed(std::int64_t v) const noexcept {
    if (v >= 0) return reduce(static_cast<std::uint64_t>(v));
    return negate(reduce(static_cast<std::uint64_t>(-(v + 1)) + 1));
  }
  // [0, q) -> centred representative in (-q/2, q/2].
  std::int64_t to_centered(std::uint64_t a) const noexcept {
    return a > (value_ >> 1) ? static_cast<std::int64_t>(a) - static_cast<std::int64_t>(value_)
                             : static_cast<std::int64_t>(a);
  }

  friend bool operator==(const Modulus& a, const Modulus& b) noexcept { return a.value_ == b.value_; }

 private:
  std::uint64_t value_ = 0;
  std::uint64_t ratio_hi_ = 0;
  std::uint64_t ratio_lo_ = 0;
  int bit_count_ = 0;
};

// A constant w mod q prepared for Shoup multiplication: w_shoup = floor(w * 2^64 / q).
struct ShoupConstant {
  std::uint64_t value = 0;
  std::uint64_t shoup = 0;

  ShoupConstant() = default;
  // Requires w < q.
  ShoupConstant(std::uint64_t w, const Modulus& q) noexcept
      : value(w), shoup(static_cast<std::uint64_t>((static_cast<u128>(w) << 64) / q.value())) {}
};

// x * w mod q in [0, 2q), for any 64-bit x (Shoup / Harvey lazy form).
inline std::uint64_t mul_shoup_lazy(std::uint64_t x, const ShoupConstant& w, std::uint64_t q) noexcept {
  const std::uint64_t q_est = mul_hi64(x, w.shoup);
  return x * w.value - q_est * q;
}
// x * w mod q in [0, q).
inline std::uint64_t mul_shoup(std::uint64_t x, const ShoupConstant& w, std::uint64_t q) noexcept {
  const std::uint64_t r = mul_shoup_lazy(x, w, q);
  return r >= q ? r - q : r;
}

}  // namespace fhellm::math
