#include "fhellm/he/params.h"

#include <array>
#include <string>

#include "fhellm/error.h"

namespace fhellm::he {
namespace {

// Primes from math::generate_ntt_primes(bits, count, N) (largest first);
// hard-coded so ids stay stable, re-validated by every Context.
const std::array<ParameterSet, 3>& registry() {
  static const std::array<ParameterSet, 3> sets = {{
      {ParamId::n2048_q54, "n2048_q54", 2048, {134176769ULL, 134111233ULL}, 21, 9},
      {ParamId::n4096_q108, "n4096_q108", 4096, {18014398509309953ULL, 18014398509293569ULL}, 21, 27},
      {ParamId::n8192_q216,
       "n8192_q216",
       8192,
       {18014398508400641ULL, 18014398508138497ULL, 18014398507892737ULL, 18014398507794433ULL},
       21,
       27},
  }};
  return sets;
}

constexpr std::array<ParamId, 3> kIds = {ParamId::n2048_q54, ParamId::n4096_q108, ParamId::n8192_q216};

}  // namespace

const ParameterSet& parameter_set(ParamId id) {
  for (const ParameterSet& p : registry()) {
    if (p.id == id) return p;
  }
  throw Error(ErrorCode::unknown_parameter_id, "parameter id " + std::to_string(static_cast<unsigned>(id)) +
                                                   " is not in the registry");
}

ParamId param_id_from_u16(std::uint16_t raw) {
  const ParamId id = static_cast<ParamId>(raw);
  (void)parameter_set(id);
  return id;
}

std::span<const ParamId> all_parameter_ids() noexcept { return kIds; }

int he_standard_max_log_qp(std::size_t poly_degree) noexcept {
  switch (poly_degree) {
    case 1024: return 27;
    case 2048: return 54;
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    default: return 0;
  }
}

}  // namespace fhellm::he
