// Primality and NTT-friendly primes: q prime with q = 1 (mod 2N), so that Z_q
// holds a primitive 2N-th root of unity and X^N + 1 splits into linear factors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fhellm::math {

// Deterministic Miller-Rabin for every 64-bit n.
bool is_prime(std::uint64_t n) noexcept;

// The `count` largest primes q < 2^bit_size with q = 1 (mod 2 * poly_degree),
// largest first. Deterministic: the same arguments always give the same list.
// @throws Error(invalid_argument) unless poly_degree is a power of two >= 2,
//   2 * poly_degree < 2^bit_size and bit_size <= Modulus::kMaxBits;
//   Error(out_of_range) when fewer than `count` such primes exist.
std::vector<std::uint64_t> generate_ntt_primes(int bit_size, std::size_t count, std::size_t poly_degree);

// A primitive (2 * poly_degree)-th root of unity mod q, the smallest one in the
// sense of SEAL (smallest value among all primitive roots found), so tables are
// reproducible. @throws Error(invalid_argument) when q != 1 (mod 2N) or q is not prime.
std::uint64_t minimal_primitive_root(std::size_t two_n, std::uint64_t q);

}  // namespace fhellm::math
