// RLWE parameter sets: one registry, each set with a stable id that every
// serialized object and every ciphertext carries.
//
// Conventions of the whole fhellm::he layer (SEAL's):
//   ring        R_Q = Z_Q[X]/(X^N + 1), Q = q_0 * ... * q_{k-1} (NTT-friendly
//               primes, q_i = 1 mod 2N), held in RNS form;
//   secret      s ternary, each coefficient uniform in {-1, 0, 1};
//   error       centred binomial of parameter 21 (variance 10.5, sigma 3.24,
//               |e| <= 21), the HE Standard's sigma ~3.2;
//   ciphertext  (c0, c1) with phase  c0 + c1 * s  =  Delta * m + e  (mod Q);
//   encoding    "coefficient encoding": message coefficient i is a signed
//               integer m_i scaled by a Delta the caller chooses (Scale);
//               decryption rounds the centred phase to the nearest multiple
//               of Delta.
// Vocabulary: poly_degree = N, coeff_modulus = Q (the q_i), there is no
// special modulus P in these sets (key switching uses digit decomposition),
// so log2(QP) = log2(Q).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace fhellm::he {

// The error distribution of every registered set: centred binomial of
// parameter eta (a difference of two sums of eta fair bits), whose variance
// eta / 2 is the sigma^2 that every noise bound multiplies (docs/noise.md).
inline constexpr int kErrorBinomialEta = 21;
inline constexpr double kErrorVariance = kErrorBinomialEta / 2.0;  // 10.5

// Stable ids (serialized; never renumber).
enum class ParamId : std::uint16_t {
  n2048_q54 = 1,   // N = 2048, 2 x 27-bit primes (log2 Q = 54): the encrypted matrix product
  n4096_q108 = 2,  // N = 4096, 3 x 36-bit primes (log2 Q = 108 <= 109)
  n8192_q216 = 3,  // N = 8192, 44 + 4 x 43-bit primes (log2 Q = 216 <= 218)
};

struct ParameterSet {
  ParamId id;
  std::string_view name;               // "n2048_q54", ...
  std::size_t poly_degree;             // N
  std::vector<std::uint64_t> coeff_modulus;  // the q_i, largest first
  int error_binomial_eta;              // centred binomial parameter (kErrorBinomialEta)
  int default_decomposition_bits;      // gadget digit width for key switching
};

// @throws Error(unknown_parameter_id) when `id` is not in the registry.
const ParameterSet& parameter_set(ParamId id);
// Same, from a serialized 16-bit id. @throws Error(unknown_parameter_id).
ParamId param_id_from_u16(std::uint16_t raw);
std::span<const ParamId> all_parameter_ids() noexcept;

// How a key switch cuts its input into gadget digits (KeySwitchKey, keys.h):
//  per_prime  each residue c mod q_i (centred) in base-2^w digits, the key's
//             term 2^(w j) s' in q_i only (the RNS gadget; any set);
//  composed   the coefficient c mod Q itself (CRT-composed, centred) in
//             base-2^w digits, the term 2^(w j) s' in every prime: fewer
//             digits for the same width (n2048_q54: 3 of 18 bits against 4
//             of 14 per residue). Two primes below 2^30 only
//             (composed_gadget_supported, gadget_decomposition.h).
// Serialized (a key's gadget byte): never renumber.
enum class GadgetBase : std::uint8_t { per_prime = 0, composed = 1 };

// A key kind's gadget: digit width and base.
struct Gadget {
  int bits = 0;
  GadgetBase base = GadgetBase::per_prime;
  bool operator==(const Gadget&) const = default;
};

// Digits of one key switch: sum_i ceil(bits(q_i) / w) per prime, ceil(bits(Q)
// / w) composed. w in 1..61.
std::size_t gadget_digit_count(const ParameterSet& ps, const Gadget& gadget) noexcept;

// Largest log2(QP) the HE Standard (Albrecht et al. 2018, Table 1, classical
// 128-bit, ternary secret, sigma 3.2) allows at this N; 0 for other N.
int he_standard_max_log_qp(std::size_t poly_degree) noexcept;

}  // namespace fhellm::he
