// RnsBasis: a list of pairwise coprime word-sized moduli q_0..q_{k-1} standing
// for their product Q (residue number system). A value x mod Q is held as its
// residues x mod q_i; the CRT maps them back:
//   x = sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i)  (mod Q).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "math/modulus.h"
#include "math/wide_int.h"

namespace fhellm::math {

class RnsBasis {
 public:
  static constexpr std::size_t kMaxModuli = 8;

  RnsBasis() = default;
  // @throws Error(invalid_argument) when empty, longer than kMaxModuli, or two
  //   moduli share a factor.
  explicit RnsBasis(std::vector<Modulus> moduli);

  std::size_t size() const noexcept { return moduli_.size(); }
  const Modulus& operator[](std::size_t i) const noexcept { return moduli_[i]; }
  const std::vector<Modulus>& moduli() const noexcept { return moduli_; }

  const WideInt& product() const noexcept { return product_; }  // Q
  int product_bits() const noexcept { return product_.bit_length(); }
  double log2_product() const noexcept;
  // Q / q_i as a wide integer, and [(Q/q_i)^-1]_{q_i}.
  const WideInt& punctured_product(std::size_t i) const noexcept { return punctured_[i]; }
  const ShoupConstant& punctured_inverse(std::size_t i) const noexcept { return punctured_inv_[i]; }
  // Q mod q_j for any word modulus (used when switching to another modulus).
  std::uint64_t product_mod(std::uint64_t m) const noexcept { return product_.mod_word(m); }

  // Residues (one per modulus, residues[i] < q_i) -> x in [0, Q).
  WideInt compose(const std::uint64_t* residues, std::size_t stride = 1) const noexcept;
  // Same, centred in (-Q/2, Q/2].
  WideInt compose_centered(const std::uint64_t* residues, std::size_t stride = 1) const noexcept;
  // x (any sign) -> residues[i * stride] = x mod q_i.
  void decompose(const WideInt& x, std::uint64_t* residues, std::size_t stride = 1) const noexcept;

 private:
  std::vector<Modulus> moduli_;
  WideInt product_;
  WideInt half_product_;
  std::vector<WideInt> punctured_;
  std::vector<ShoupConstant> punctured_inv_;
};

}  // namespace fhellm::math
