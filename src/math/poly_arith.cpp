#include "math/poly_arith.h"

#include "math/cpu_features.h"
#include "poly_arith_simd.h"

namespace fhellm::math {

void add_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  const std::uint64_t m = q.value();
  if (cpu_has_avx512ifma()) return add_mod_lanes_avx512(a, b, out, n, m);
  if (cpu_has_avx2() && m < (std::uint64_t{1} << 62)) return add_mod_lanes_avx2(a, b, out, n, m);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t s = a[i] + b[i];
    out[i] = s >= m ? s - m : s;
  }
}

void sub_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  const std::uint64_t m = q.value();
  if (cpu_has_avx512ifma()) return sub_mod_lanes_avx512(a, b, out, n, m);
  if (cpu_has_avx2() && m < (std::uint64_t{1} << 62)) return sub_mod_lanes_avx2(a, b, out, n, m);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t d = a[i] + m - b[i];
    out[i] = d >= m ? d - m : d;
  }
}

void negate_mod(const std::uint64_t* a, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  const std::uint64_t m = q.value();
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] == 0 ? 0 : m - a[i];
}

void multiply_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                  const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = q.mul(a[i], b[i]);
}

void multiply_scalar_mod(const std::uint64_t* a, std::uint64_t scalar, std::uint64_t* out, std::size_t n,
                         const Modulus& q) noexcept {
  const ShoupConstant w(scalar, q);
  for (std::size_t i = 0; i < n; ++i) out[i] = mul_shoup(a[i], w, q.value());
}

void multiply_add_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                      const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = q.reduce(static_cast<u128>(a[i]) * b[i] + out[i]);
}

void multiply_accumulate_u128(const std::uint64_t* a, const std::uint64_t* b, u128* acc, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) acc[i] += static_cast<u128>(a[i]) * b[i];
}

void reduce_u128(const u128* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    // Fold the high word first (only when needed) so the Barrett
    // precondition x < 2^64 q holds.
    std::uint64_t hi = static_cast<std::uint64_t>(acc[i] >> 64);
    if (hi >= q.value()) hi = q.reduce(hi);
    out[i] = q.reduce((static_cast<u128>(hi) << 64) | static_cast<std::uint64_t>(acc[i]));
  }
}

void lift_signed(const std::int64_t* v, std::uint64_t q, std::uint64_t* out, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return lift_signed_avx512(v, q, out, n);
  for (std::size_t j = 0; j < n; ++j) {
    out[j] = v[j] < 0 ? q - static_cast<std::uint64_t>(-v[j]) : static_cast<std::uint64_t>(v[j]);
  }
}

void multiply_accumulate_u64(const std::uint64_t* __restrict a, const std::uint64_t* __restrict b,
                             std::uint64_t* __restrict acc, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return multiply_accumulate_u64_avx512(a, b, acc, n);
  if (cpu_has_avx2()) return multiply_accumulate_u64_avx2(a, b, acc, n);
  for (std::size_t i = 0; i < n; ++i) {
    // Operands are < 2^32: the 32x32 multiply is exact (vpmuludq).
    acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * static_cast<std::uint32_t>(b[i]);
  }
}

void multiply_accumulate_u64_u32(const std::uint64_t* __restrict a, const std::uint32_t* __restrict b,
                                 std::uint64_t* __restrict acc, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return multiply_accumulate_u64_u32_avx512(a, b, acc, n);
  if (cpu_has_avx2()) return multiply_accumulate_u64_u32_avx2(a, b, acc, n);
  for (std::size_t i = 0; i < n; ++i) acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * b[i];
}

void multiply_accumulate_pair_u64_u32(const std::uint64_t* __restrict a0, const std::uint64_t* __restrict a1,
                                      const std::uint32_t* __restrict b, std::uint64_t* __restrict acc0,
                                      std::uint64_t* __restrict acc1, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return multiply_accumulate_pair_u64_u32_avx512(a0, a1, b, acc0, acc1, n);
  if (cpu_has_avx2()) return multiply_accumulate_pair_u64_u32_avx2(a0, a1, b, acc0, acc1, n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t w = b[i];
    acc0[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a0[i])) * w;
    acc1[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a1[i])) * w;
  }
}

void multiply_accumulate_split52(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc_lo,
                                 std::uint64_t* acc_hi, std::size_t n) noexcept {
  if (cpu_has_avx512ifma()) return multiply_accumulate_split52_ifma(a, b, acc_lo, acc_hi, n);
  constexpr std::uint64_t mask52 = (std::uint64_t{1} << 52) - 1;
  for (std::size_t i = 0; i < n; ++i) {
    const u128 p = static_cast<u128>(a[i]) * b[i];
    acc_lo[i] += static_cast<std::uint64_t>(p) & mask52;
    acc_hi[i] += static_cast<std::uint64_t>(p >> 52);
  }
}

void reduce_split52(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out, std::size_t n,
                    const Modulus& q) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    // Barrett needs x < 2^64 q: true once acc_hi < q (acc_lo < 2^63), so fold
    // acc_hi only when it is not (rare: it grows by < 2^48 per term).
    const std::uint64_t hi = acc_hi[i] >= q.value() ? q.reduce(acc_hi[i]) : acc_hi[i];
    out[i] = q.reduce((static_cast<u128>(hi) << 52) + acc_lo[i]);
  }
}

void reduce_u64(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept {
  if (q.value() < (std::uint64_t{1} << 30) && cpu_has_avx2() && !cpu_has_avx512ifma()) {
    return reduce_u64_small_avx2(acc, out, n, q.value());
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = q.reduce(acc[i]);
}

void multiply_accumulate_pair2_u64_u32(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* w,
                                       const std::uint64_t* b0, const std::uint64_t* b1, const std::uint32_t* v,
                                       std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept {
  if (cpu_has_avx2() && !cpu_has_avx512ifma()) return multiply_accumulate_pair2_u64_u32_avx2(a0, a1, w, b0, b1, v, acc0, acc1, n);
  multiply_accumulate_pair_u64_u32(a0, a1, w, acc0, acc1, n);
  multiply_accumulate_pair_u64_u32(b0, b1, v, acc0, acc1, n);
}

void monomial_butterfly_ntt(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                            const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n, const Modulus& q) noexcept {
  if (q.value() < (std::uint64_t{1} << 31)) {
    if (cpu_has_avx512ifma()) return monomial_butterfly_ntt_avx512(e, o, m, m_shoup, d, n, q.value());
    if (cpu_has_avx2()) return monomial_butterfly_ntt_avx2(e, o, m, m_shoup, d, n, q.value());
  }
  const std::uint64_t qv = q.value();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t t = q.mul(o[i], m[i]);
    const std::uint64_t s = e[i] + t, r = e[i] + qv - t;
    e[i] = s >= qv ? s - qv : s;
    d[i] = r >= qv ? r - qv : r;
  }
}

std::size_t max_lazy_terms_u64(const Modulus& q) noexcept {
  const std::uint64_t m = q.value();
  if (m >= (std::uint64_t{1} << 32)) return 0;
  const std::uint64_t square = (m - 1) * (m - 1);
  if (square == 0) return ~std::size_t{0};
  return static_cast<std::size_t>((~std::uint64_t{0} - (m - 1)) / square);
}

}  // namespace fhellm::math
