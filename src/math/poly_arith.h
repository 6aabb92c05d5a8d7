// Element-wise kernels on coefficient arrays modulo one word modulus q. They
// do no checking (hot paths); callers validate sizes and ranges at their
// boundary. Unless stated, inputs and outputs are in [0, q) and `out` may
// alias an input.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/modulus.h"

namespace fhellm::math {

void add_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;
void sub_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;
void negate_mod(const std::uint64_t* a, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;
// out = a * b (element-wise), Barrett.
void multiply_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                  const Modulus& q) noexcept;
// out = a * scalar, scalar < q.
void multiply_scalar_mod(const std::uint64_t* a, std::uint64_t scalar, std::uint64_t* out, std::size_t n,
                         const Modulus& q) noexcept;
// out += a * b (element-wise), reduced.
void multiply_add_mod(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* out, std::size_t n,
                      const Modulus& q) noexcept;

// out[j] = v[j] mod q for signed |v[j]| < q (q + v when negative).
void lift_signed(const std::int64_t* v, std::uint64_t q, std::uint64_t* out, std::size_t n) noexcept;

// Lazy accumulation for long sums of products (the encrypted matrix product):
// acc[i] += a[i] * b[i] as exact 128-bit integers; reduce once at the end.
// Safe for 2^128 / q^2 terms (>= 2^6 terms even at q = 2^61).
void multiply_accumulate_u128(const std::uint64_t* a, const std::uint64_t* b, u128* acc, std::size_t n) noexcept;
void reduce_u128(const u128* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;

// Same with 64-bit accumulators, for q < 2^32 only (each product is below
// q^2 < 2^64): the caller must reduce (reduce_u64) at least every
// max_lazy_terms_u64(q) additions. Auto-vectorizes to vpmuludq with AVX2.
void multiply_accumulate_u64(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc,
                             std::size_t n) noexcept;
void reduce_u64(const std::uint64_t* acc, std::uint64_t* out, std::size_t n, const Modulus& q) noexcept;
// Same contract with b stored in 32-bit words (compact NTT weight plaintexts):
// half the bytes read for b, which dominates when b streams from memory.
void multiply_accumulate_u64_u32(const std::uint64_t* a, const std::uint32_t* b, std::uint64_t* acc,
                                 std::size_t n) noexcept;
// Both parts of a ciphertext against one 32-bit plaintext in a single pass
// (b read once): acc0[i] += a0[i] * b[i], acc1[i] += a1[i] * b[i]; same
// contract as multiply_accumulate_u64.
void multiply_accumulate_pair_u64_u32(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* b,
                                      std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept;
// Split accumulation for q < 2^50 (AVX-512 IFMA where present): with
// p = a[i] * b[i] < 2^100, acc_lo[i] += p mod 2^52 and acc_hi[i] += p >> 52.
// Exact for up to 2^11 terms; reduce_split52 gives (acc_hi 2^52 + acc_lo) mod q.
void multiply_accumulate_split52(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc_lo,
                                 std::uint64_t* acc_hi, std::size_t n) noexcept;
void reduce_split52(const std::uint64_t* acc_lo, const std::uint64_t* acc_hi, std::uint64_t* out, std::size_t n,
                    const Modulus& q) noexcept;

// Two terms of multiply_accumulate_pair_u64_u32 in one pass (the sums are
// read and written once for both): acc0 += a0 w + b0 v, acc1 += a1 w + b1 v.
void multiply_accumulate_pair2_u64_u32(const std::uint64_t* a0, const std::uint64_t* a1, const std::uint32_t* w,
                                       const std::uint64_t* b0, const std::uint64_t* b1, const std::uint32_t* v,
                                       std::uint64_t* acc0, std::uint64_t* acc1, std::size_t n) noexcept;

// Butterfly of the packing tree in NTT form, with m the transform of a
// monomial X^s and m_shoup[i] = floor(m[i] 2^32 / q) (any value when
// q >= 2^31): t = o * m mod q, then e <- e + t and d <- e - t (all in [0, q)).
void monomial_butterfly_ntt(std::uint64_t* e, const std::uint64_t* o, const std::uint64_t* m,
                            const std::uint64_t* m_shoup, std::uint64_t* d, std::size_t n, const Modulus& q) noexcept;

// How many products of values < q a 64-bit accumulator holding a value < q can
// absorb; 0 when q >= 2^32 (use the 128-bit accumulator).
std::size_t max_lazy_terms_u64(const Modulus& q) noexcept;

}  // namespace fhellm::math
