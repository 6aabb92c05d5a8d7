#include "he/context.h"

#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "math/primes.h"

namespace fhellm::he {
namespace {

math::RnsBasis validated_basis(const ParameterSet& p) {
  const std::size_t n = p.poly_degree;
  require(n >= 1024 && n <= 32768 && (n & (n - 1)) == 0, ErrorCode::bad_parameters,
          "poly_degree " + std::to_string(n) + " is not a power of two in [1024, 32768]");
  require(!p.coeff_modulus.empty() && p.coeff_modulus.size() <= math::RnsBasis::kMaxModuli,
          ErrorCode::bad_parameters, "coeff_modulus needs 1..8 primes");
  std::vector<math::Modulus> moduli;
  double log_q = 0;
  for (std::uint64_t q : p.coeff_modulus) {
    require(q < (std::uint64_t{1} << math::Modulus::kMaxBits) && math::is_prime(q) && q % (2 * n) == 1,
            ErrorCode::bad_parameters,
            "coeff_modulus prime " + std::to_string(q) + " is not an NTT-friendly prime below 2^61 for N=" +
                std::to_string(n));
    moduli.emplace_back(q);
    log_q += std::log2(static_cast<double>(q));
  }
  const int bound = he_standard_max_log_qp(n);
  require(log_q <= bound, ErrorCode::bad_parameters,
          "log2(Q) = " + std::to_string(log_q) + " exceeds the HE Standard 128-bit bound " + std::to_string(bound) +
              " for N=" + std::to_string(n));
  require(p.error_binomial_eta >= 1 && p.error_binomial_eta <= 32, ErrorCode::bad_parameters,
          "error eta out of range");
  require(p.default_decomposition_bits >= 1 && p.default_decomposition_bits <= 61, ErrorCode::bad_parameters,
          "decomposition bits out of range");
  try {
    return math::RnsBasis(std::move(moduli));
  } catch (const Error& e) {
    throw Error(ErrorCode::bad_parameters, e.what());
  }
}

}  // namespace

std::shared_ptr<const Context> Context::get(ParamId id) {
  static std::mutex mutex;
  static std::map<ParamId, std::shared_ptr<const Context>> cache;
  const ParameterSet& params = parameter_set(id);
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[id];
  if (!slot) slot = std::make_shared<const Context>(params);
  return slot;
}

Context::Context(const ParameterSet& params) : params_(params), basis_(validated_basis(params)) {
  for (std::size_t i = 0; i < basis_.size(); ++i) ntt_.emplace_back(params_.poly_degree, basis_[i]);
  for (std::uint64_t q : math::generate_ntt_primes(61, 2, params_.poly_degree)) {
    aux_ntt_.emplace_back(params_.poly_degree, math::Modulus(q));
  }
}

const std::vector<std::uint32_t>& Context::automorphism_permutation(std::uint64_t galois_elt) const {
  std::lock_guard<std::mutex> lock(perm_mutex_);
  auto& slot = perm_cache_[galois_elt];
  if (!slot) {
    try {
      slot = std::make_unique<std::vector<std::uint32_t>>(
          math::ntt_automorphism_permutation(params_.poly_degree, galois_elt));
    } catch (...) {
      perm_cache_.erase(galois_elt);
      throw;
    }
  }
  return *slot;
}

void Context::check_param_id(ParamId id, const char* what) const {
  require(id == params_.id, ErrorCode::parameter_mismatch,
          std::string(what) + " was made for parameter set " + std::to_string(static_cast<unsigned>(id)) +
              ", this context is " + std::string(params_.name) + " (" +
              std::to_string(static_cast<unsigned>(params_.id)) + ")");
}

}  // namespace fhellm::he
