// AVX-512 versions of some poly_arith kernels (same contracts); called by the
// dispatchers in poly_arith.cpp when cpu_has_avx512ifma() (the AVX-512 flag set).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

// a, b < m < 2^63; out may alias a or b.
void add_mod_lanes_avx512(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                    std::uint64_t m) noexcept;
void sub_mod_lanes_avx512(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                    std::uint64_t m) noexcept;
void lift_signed_avx512(const std::int64_t* v, std::uint64_t q, std::uint64_t* out, std::size_t n) noexcept;
void multiply_accumulate_u64_avx512(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc,
                                    std::size_t n) noexcept;
void multiply_accumulate_u64_u32_avx512(const std::uint64_t* a, const std::uint32_t* b, std::uint64_t* acc,
                                        std::size_t n) noexcept;
void multiply_accumulate_pair_u64_u32_avx512(const std::uint64_t* a0, const std::uint64_t* a1,
                                             const std::uint32_t* b, std::uint64_t* acc0, std::uint64_t* acc1,
                                             std::size_t n) noexcept;

// AVX2 builds (poly_arith_avx2.cpp), called when cpu_has_avx2() and not the
// AVX-512 ones. Products take the low 32 bits of each operand (vpmuludq).
void add_mod_lanes_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                        std::uint64_t m) noexcept;
void sub_mod_lanes_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                        std::uint64_t m) noexcept;
void multiply_accumulate_u64_avx2(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc,
                                  std::size_t n) noexcept;
void multiply_accumulate_u64_u32_avx2(const std::uint64_t* a, const std::uint32_t* b, std::uint64_t* acc,
                                      std::size_t n) noexcept;
void multiply_accumulate_pair_u64_u32_avx2(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* b,
                                           std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept;
// out[i] = acc[i] mod q for any 64-bit acc[i], q < 2^30.
void reduce_u64_small_avx2(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, std::uint64_t q) noexcept;

void multiply_accumulate_pair2_u64_u32_avx2(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* w,
                                            const std::uint64_t* b0, const std::uint64_t* b1, const std::uint32_t* v,
                                            std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept;
// q < 2^31 (32-bit Shoup constants m_shoup).
void monomial_butterfly_ntt_avx2(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                                 const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n, std::uint64_t q) noexcept;

// q < 2^31 (32-bit Shoup constants m_shoup).
void monomial_butterfly_ntt_avx512(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                                   const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n,
                                   std::uint64_t q) noexcept;
// Slots i .. n - 1 of the same, one at a time: the SIMD kernels' tails.
inline void monomial_butterfly_ntt_tail(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                                        const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t i,
                                        std::size_t n, std::uint64_t q) noexcept {
  for (; i < n; ++i) {
    const std::uint64_t est = (o[i] * m_shoup[i]) >> 32;
    std::uint64_t t = o[i] * m[i] - est * q;  // Shoup: [0, 2q)
    t = t >= q ? t - q : t;
    const std::uint64_t sum = e[i] + t, diff = e[i] + q - t;
    e[i] = sum >= q ? sum - q : sum;
    d[i] = diff >= q ? diff - q : diff;
  }
}

// Requires AVX-512 IFMA and a[i], b[i] < 2^52.
void multiply_accumulate_split52_ifma(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc_lo,
                                      std::uint64_t* acc_hi, std::size_t n) noexcept;

}  // namespace fhellm::math
