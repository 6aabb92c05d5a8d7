// Context: a validated parameter set with everything precomputed from it (NTT
// tables per prime, RNS constants, automorphism permutations). Heavy, immutable
// after construction, shared by every object made under it (SEAL's
// SEALContext). Objects carry only the ParamId and are checked against the
// context on use. See params.h for the conventions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "he/params.h"
#include "math/modulus.h"
#include "math/ntt.h"
#include "math/rns.h"

namespace fhellm::he {

class Context {
 public:
  // Shared, cached context for a registered set (built once per process).
  // @throws Error(unknown_parameter_id), Error(bad_parameters).
  static std::shared_ptr<const Context> get(ParamId id);

  // Validates and precomputes: every q_i an NTT-friendly prime of at most 61
  // bits, pairwise distinct, N a power of two in [2^10, 2^15], log2 Q within
  // the HE Standard 128-bit bound for N.
  // @throws Error(bad_parameters) naming the failed check.
  explicit Context(const ParameterSet& params);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const ParameterSet& params() const noexcept { return params_; }
  ParamId param_id() const noexcept { return params_.id; }
  std::size_t poly_degree() const noexcept { return params_.poly_degree; }   // N
  std::size_t moduli_count() const noexcept { return basis_.size(); }        // k
  const math::RnsBasis& coeff_basis() const noexcept { return basis_; }
  const math::Modulus& modulus(std::size_t i) const noexcept { return basis_[i]; }
  const math::NttTables& ntt_tables(std::size_t i) const noexcept { return ntt_[i]; }

  // Two 61-bit NTT primes, not part of Q, for exact integer (CRT) products of
  // polynomials with coefficients below 2^60 (decrypting mod-switched
  // ciphertexts, tests). Products must stay below 2^120 in absolute value.
  const math::NttTables& aux_ntt_tables(std::size_t i) const noexcept { return aux_ntt_[i]; }

  // NTT-slot permutation of X -> X^g (thread-safe, cached): out[i] = in[perm[i]].
  // @throws Error(invalid_argument) unless g is odd and < 2N.
  const std::vector<std::uint32_t>& automorphism_permutation(std::uint64_t galois_elt) const;

  // Throws Error(parameter_mismatch) when `id` is not this context's.
  void check_param_id(ParamId id, const char* what) const;

 private:
  ParameterSet params_;
  math::RnsBasis basis_;
  std::vector<math::NttTables> ntt_;
  std::vector<math::NttTables> aux_ntt_;
  mutable std::mutex perm_mutex_;
  mutable std::map<std::uint64_t, std::unique_ptr<std::vector<std::uint32_t>>> perm_cache_;
};

using ContextPtr = std::shared_ptr<const Context>;

}  // namespace fhellm::he
