// Negacyclic number-theoretic transform over Z_q[X]/(X^N + 1), N = 2^k with
// 2^1 <= N <= 2^17 (the library uses 2048..16384).
//
// Forward: coefficients a_0..a_{N-1} (in [0, q)) -> evaluations, in place, in
// bit-reversed order: output slot i holds a(psi^(2*bitrev(i)+1)), psi the
// table's primitive 2N-th root. Inverse undoes it exactly (division by N
// included). Pointwise products of two forward transforms are the transform of
// the negacyclic product. Algorithm: Cooley-Tukey forward / Gentleman-Sande
// inverse with merged psi twists (Longa-Naehrig, CANS 2016) and Harvey's lazy
// butterflies (values in [0, 4q) inside, [0, q) at the ends).
//
// Kernels: a portable reference (ntt_*_reference), an AVX2 version and, for
// q < 2^50, an AVX-512 IFMA version; the plain ntt_forward / ntt_inverse pick
// the fastest one the CPU supports at run time (see cpu_features.h). All
// versions give bit-identical outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "math/modulus.h"

namespace fhellm::math {

// The twiddles of a table for primes q < 2^30 in 32-bit words, with 32-bit
// Shoup constants floor(w 2^32 / q), for the 32-bit kernels (all values < 4q
// fit a word). lane_* hold the twiddles of the spans 16, 8, 4, 2, 1 in the
// order and lane layout the AVX2 kernels read them (ntt32_avx2.cpp: per block
// of 64 values, 13 groups of 8 twiddles then their 8 constants); empty for N < 64.
struct NttTables32 {
  std::size_t n = 0;
  std::uint32_t q = 0;
  std::vector<std::uint32_t> roots, roots_shoup;          // forward_values() and their constants
  std::vector<std::uint32_t> inv_roots, inv_roots_shoup;  // inverse_values() and theirs
  std::uint32_t inv_n = 0, inv_n_shoup = 0;               // N^-1 mod q and its constant
  std::uint32_t inv_n_root = 0, inv_n_root_shoup = 0;     // inv_roots[1] N^-1 mod q (last inverse layer)
  std::vector<std::uint32_t> lane_fwd, lane_inv;
};

class NttTables {
 public:
  // @throws Error(invalid_argument) unless poly_degree is a power of two in
  //   [2, 2^17] and q is a prime = 1 (mod 2 * poly_degree).
  NttTables(std::size_t poly_degree, const Modulus& q);

  std::size_t poly_degree() const noexcept { return n_; }
  int log_degree() const noexcept { return log_n_; }
  const Modulus& modulus() const noexcept { return q_; }
  std::uint64_t root() const noexcept { return psi_; }  // primitive 2N-th root used

  // psi^bitrev(i), i in [0, N): forward twiddles in the order they are used.
  const std::vector<ShoupConstant>& forward_roots() const noexcept { return fwd_; }
  // psi^-bitrev(i), i in [0, N): inverse twiddles in the order they are used.
  const std::vector<ShoupConstant>& inverse_roots() const noexcept { return inv_; }
  const ShoupConstant& inv_degree() const noexcept { return inv_n_; }  // N^-1 mod q

  // Structure-of-arrays copies for SIMD kernels: root values, and for q < 2^50
  // their 52-bit Shoup constants floor(w 2^52 / q) (AVX-512 IFMA); empty otherwise.
  const std::vector<std::uint64_t>& forward_values() const noexcept { return fwd_values_; }
  const std::vector<std::uint64_t>& forward_shoup52() const noexcept { return fwd_shoup52_; }
  const std::vector<std::uint64_t>& inverse_values() const noexcept { return inv_values_; }
  const std::vector<std::uint64_t>& inverse_shoup52() const noexcept { return inv_shoup52_; }
  std::uint64_t inv_degree_shoup52() const noexcept { return inv_n_shoup52_; }
  bool supports_ifma() const noexcept { return !fwd_shoup52_.empty(); }
  // The 32-bit copy for q < 2^30; nullptr otherwise.
  const NttTables32* tables32() const noexcept { return tables32_.get(); }

 private:
  std::size_t n_;
  int log_n_;
  Modulus q_;
  std::uint64_t psi_;
  std::vector<ShoupConstant> fwd_;
  std::vector<ShoupConstant> inv_;
  ShoupConstant inv_n_;
  std::vector<std::uint64_t> fwd_values_, fwd_shoup52_, inv_values_, inv_shoup52_;
  std::uint64_t inv_n_shoup52_ = 0;
  std::shared_ptr<const NttTables32> tables32_;
};

// In-place transforms. Input and output in [0, q); `values` has N entries.
void ntt_forward(std::uint64_t* values, const NttTables& tables) noexcept;
void ntt_inverse(std::uint64_t* values, const NttTables& tables) noexcept;

// Reference (scalar, portable) kernels with the same contract.
void ntt_forward_reference(std::uint64_t* values, const NttTables& tables) noexcept;
void ntt_inverse_reference(std::uint64_t* values, const NttTables& tables) noexcept;

// AVX2 kernels; call only when cpu_has_avx2(). Same contract, same results.
void ntt_forward_avx2(std::uint64_t* values, const NttTables& tables) noexcept;
void ntt_inverse_avx2(std::uint64_t* values, const NttTables& tables) noexcept;

// AVX2 kernels on 32-bit words for q < 2^30 and N >= 16 (tables.tables32()):
// same contract on uint32 arrays, and the same results.
void ntt_forward_u32_avx2(std::uint32_t* values, const NttTables32& tables) noexcept;
void ntt_inverse_u32_avx2(std::uint32_t* values, const NttTables32& tables) noexcept;

// AVX-512 IFMA kernels (52-bit multiply-add, 8 lanes); call only when
// cpu_has_avx512ifma() and tables.supports_ifma() (q < 2^50) and N >= 16.
// Same contract, same results.
void ntt_forward_ifma(std::uint64_t* values, const NttTables& tables) noexcept;
void ntt_inverse_ifma(std::uint64_t* values, const NttTables& tables) noexcept;

// Negacyclic product by the schoolbook method, O(N^2): the test oracle.
std::vector<std::uint64_t> negacyclic_multiply_schoolbook(const std::vector<std::uint64_t>& a,
                                                          const std::vector<std::uint64_t>& b,
                                                          const Modulus& q);

// Slot permutation of the automorphism X -> X^g (g odd) on a forward
// transform: out[i] = in[perm[i]]. Works for any table of the same N.
std::vector<std::uint32_t> ntt_automorphism_permutation(std::size_t poly_degree, std::uint64_t galois_elt);

inline std::uint32_t reverse_bits(std::uint32_t x, int bits) noexcept {
  std::uint32_t r = 0;
  for (int i = 0; i < bits; ++i) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}

}  // namespace fhellm::math
