// Symmetric (secret-key) encryption in coefficient encoding.
//   c1 = a, uniform in R_Q, expanded from a fresh public 32-byte seed;
//   c0 = -a * s + e + Delta * m  (mod Q), e centred binomial (eta 21).
// The result is in NTT form. Thread-safe: every call draws its own seeds from
// RAND_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/keys.h"
#include "he/plaintext.h"

namespace fhellm::he {

// An upload: the seed of the mask and the body rounded to `modulus` levels.
struct SeededRoundedBody {
  Seed seed{};
  std::vector<std::uint64_t> body;  // N values < modulus
};

class Encryptor {
 public:
  // @throws Error(parameter_mismatch) when the key is for another context.
  Encryptor(ContextPtr context, const SecretKey& sk);

  // Encrypts count <= N signed integers (missing coefficients are zero) scaled
  // by `scale`. @throws Error(invalid_argument) when count > N or some
  // |m_i| > scale.max_message(); Error(parameter_mismatch) for a foreign scale.
  SeededCiphertext encrypt_seeded(const std::int64_t* message, std::size_t count, const Scale& scale) const;
  Ciphertext encrypt(const std::int64_t* message, std::size_t count, const Scale& scale) const;

  // Encrypts a plaintext already lifted to R_Q (coefficient or NTT form):
  // phase = plain + e. @throws Error(parameter_mismatch).
  SeededCiphertext encrypt_poly_seeded(const RnsPoly& plain) const;
  // The same encryption of a coefficient-form plaintext, its body rounded to
  // `modulus` levels: round(c0 modulus / Q) mod modulus, as
  // Evaluator::switch_modulus would give, with one inverse NTT (of a s)
  // instead of the body's round trip through the NTT form.
  // @throws Error(parameter_mismatch), Error(invalid_argument) for a plain in
  //         NTT form or a modulus outside [2, 2^61).
  SeededRoundedBody encrypt_poly_rounded(const RnsPoly& plain, std::uint64_t modulus) const;
  Ciphertext encrypt_zero() const;

  const ContextPtr& context() const noexcept { return context_; }

 private:
  ContextPtr context_;
  RnsPoly secret_ntt_;
};

}  // namespace fhellm::he
