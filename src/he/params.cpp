#include "he/params.h"

#include <array>
#include <string>

#include "fhellm/error.h"

namespace fhellm::he {
namespace {

// Primes from math::generate_ntt_primes(bits, count, N) (largest first);
// hard-coded so ids stay stable, re-validated by every Context. All below
// 2^50 so the AVX-512 IFMA NTT applies: set 1 two 27-bit primes, set 2 three
// 36-bit primes, set 3 one 44-bit and four 43-bit primes.
const std::array<ParameterSet, 3>& registry() {
  static const std::array<ParameterSet, 3> sets = {{
      {ParamId::n2048_q54, "n2048_q54", 2048, {134176769ULL, 134111233ULL}, kErrorBinomialEta, 9},
      {ParamId::n4096_q108, "n4096_q108", 4096, {68719403009ULL, 68719230977ULL, 68719206401ULL},
       kErrorBinomialEta, 18},
      {ParamId::n8192_q216,
       "n8192_q216",
       8192,
       {17592186028033ULL, 8796092858369ULL, 8796092792833ULL, 8796092661761ULL, 8796092399617ULL},
       kErrorBinomialEta,
       22},
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

std::size_t gadget_digit_count(const ParameterSet& ps, const Gadget& g) noexcept {
  const auto bits = [](unsigned __int128 v) {
    int b = 0;
    for (; v != 0; v >>= 1) ++b;
    return b;
  };
  if (g.base == GadgetBase::composed) {
    // bits(Q), exact for up to two primes (the composed gadget's sets), else
    // the sum of the primes' bits (an upper bound).
    int q_bits = 0;
    if (ps.coeff_modulus.size() <= 2) {
      unsigned __int128 q = 1;
      for (std::uint64_t p : ps.coeff_modulus) q *= p;
      q_bits = bits(q);
    } else {
      for (std::uint64_t p : ps.coeff_modulus) q_bits += bits(p);
    }
    return static_cast<std::size_t>((q_bits + g.bits - 1) / g.bits);
  }
  std::size_t digits = 0;
  for (std::uint64_t q : ps.coeff_modulus) digits += static_cast<std::size_t>((bits(q) + g.bits - 1) / g.bits);
  return digits;
}

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
