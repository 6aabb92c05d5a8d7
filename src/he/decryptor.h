// Decryption: the noisy phase c0 + c1 * s, and its rounding to the message.
// m_i = round(phase_i / Delta) with the phase centred in (-Q/2, Q/2]; exact
// when every |noise_i| < Delta / 2 (noise_budget_bits > 0).
#pragma once

#include <cstdint>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/keys.h"
#include "he/plaintext.h"

namespace fhellm::he {

struct Decrypted {
  std::vector<std::int64_t> message;  // N values
  // phase - Delta * m per coefficient, in units of the R_Q phase (for a
  // SwitchedCiphertext: the torus error times Q, so both are comparable).
  // After a plain decrypt this is the rounding remainder, so it never exceeds
  // Delta/2 even when decryption went wrong: to measure noise, use measure()
  // with the known message.
  std::vector<double> noise;
  double max_abs_noise = 0;
  // log2(Delta / 2) - log2(max |noise|): bits left before a rounding error.
  double noise_budget_bits = 0;
};

class Decryptor {
 public:
  // @throws Error(parameter_mismatch).
  Decryptor(ContextPtr context, const SecretKey& sk);

  // c0 + c1 * s in coefficient form. @throws Error(parameter_mismatch).
  RnsPoly phase(const Ciphertext& ct) const;

  // @throws Error(parameter_mismatch); Error(noise_budget_exceeded) is NOT
  // thrown: callers check noise_budget_bits (tests) or trust the noise bound.
  Decrypted decrypt(const Ciphertext& ct, const Scale& scale) const;
  Decrypted decrypt(const SwitchedCiphertext& ct, const Scale& scale) const;

  // Rounds a phase (coefficient form) to messages.
  Decrypted decode(const RnsPoly& phase, const Scale& scale) const;

  // Noise against a known message (tests, noise measurements): message is
  // `expected` (N values) and noise = phase - Delta * expected, exactly,
  // however large. @throws Error(invalid_argument) unless expected has N values.
  Decrypted measure(const Ciphertext& ct, const Scale& scale, const std::vector<std::int64_t>& expected) const;
  Decrypted measure(const SwitchedCiphertext& ct, const Scale& scale, const std::vector<std::int64_t>& expected) const;

 private:
  Decrypted decode_impl(const RnsPoly& phase, const Scale& scale, const std::vector<std::int64_t>* expected) const;
  Decrypted switched_impl(const SwitchedCiphertext& ct, const Scale& scale,
                          const std::vector<std::int64_t>* expected) const;
  Decrypted switched_pow2(const SwitchedCiphertext& ct, const Scale& scale) const;
  ContextPtr context_;
  std::vector<std::int8_t> secret_;
  RnsPoly secret_ntt_;
  std::vector<std::uint64_t> secret_aux_ntt_;  // s in the two auxiliary NTT primes
};

}  // namespace fhellm::he
