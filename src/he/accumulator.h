// CiphertextAccumulator: a lazily reduced sum of plaintext x ciphertext
// products in NTT form, the inner loop of the encrypted matrix product.
// When every q_i < 2^32 it accumulates exact products in 64-bit words and
// reduces every math::max_lazy_terms_u64(q) terms (about 2^10 for 27-bit
// primes); otherwise in 128-bit words. The result equals the reduced sum.
// PlaintextNtt and PlaintextNtt32 terms may be mixed in one sum.
#pragma once

#include <cstddef>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/plaintext.h"
#include "math/modulus.h"

namespace fhellm::he {

class CiphertextAccumulator {
 public:
  explicit CiphertextAccumulator(ContextPtr context);

  // acc += ct * pt. @throws Error(parameter_mismatch) unless both are for this
  // context and ct is in NTT form.
  void multiply_add(const Ciphertext& ct, const PlaintextNtt& pt);
  // Unchecked version for hot loops (ids and forms validated by the caller).
  void multiply_add_unchecked(const Ciphertext& ct, const PlaintextNtt& pt) noexcept;
  // Same with a compact (32-bit) plaintext: identical result, half the
  // plaintext bytes read. @throws Error(parameter_mismatch) as above.
  void multiply_add(const Ciphertext& ct, const PlaintextNtt32& pt);
  void multiply_add_unchecked(const Ciphertext& ct, const PlaintextNtt32& pt) noexcept;
  // Two terms in one pass over the sums (identical result).
  void multiply_add2_unchecked(const Ciphertext& a, const PlaintextNtt32& pa, const Ciphertext& b,
                               const PlaintextNtt32& pb) noexcept;

  // The reduced sum (NTT form). Does not reset.
  Ciphertext result() const;
  void reset() noexcept;
  std::size_t terms() const noexcept { return terms_; }

 private:
  void fold() noexcept;  // reduce the 64-bit lanes into `base_`
  ContextPtr context_;
  bool use_u64_;
  std::size_t fold_every_ = 0;
  std::size_t since_fold_ = 0;
  std::size_t terms_ = 0;
  std::vector<std::uint64_t> acc64_;   // 2 * k * N (c0 then c1)
  std::vector<math::u128> acc128_;     // 2 * k * N
};

}  // namespace fhellm::he
