// Plaintext-side objects.
//  - Scale: the Delta of coefficient encoding, phase = Delta * m + e. Usually
//    Delta = floor(Q / t) for a "plain modulus" t: signed messages with
//    |m| < t/2 (minus the noise margin) decrypt exactly.
//  - PlaintextNtt: a small-integer polynomial (weights) lifted to R_Q and
//    transformed ONCE to NTT form, then reused for any number of products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fhellm/he/context.h"
#include "fhellm/he/rns_poly.h"
#include "fhellm/math/wide_int.h"

namespace fhellm::he {

class Scale {
 public:
  Scale() = default;
  // Delta = floor(Q / plain_modulus). @throws Error(invalid_argument) unless
  // 2 <= plain_modulus and Delta >= 1.
  static Scale from_plain_modulus(const Context& context, std::uint64_t plain_modulus);
  // Any Delta in [1, Q). @throws Error(invalid_argument).
  static Scale from_delta(const Context& context, const math::WideInt& delta);

  ParamId param_id() const noexcept { return param_id_; }
  const math::WideInt& delta() const noexcept { return delta_; }
  // Delta mod q_i, for each prime.
  const std::vector<std::uint64_t>& delta_residues() const noexcept { return delta_residues_; }
  // Q / Delta as a real number (about t); the message range is |m| < this / 2.
  long double ratio() const noexcept { return ratio_; }
  // Largest |m| that decrypts exactly under any noise |e| < Delta/2: the
  // largest m with (2m + 1) Delta <= Q (t/2 - 1 for Delta = floor(Q/t), t even).
  std::int64_t max_message() const noexcept { return max_message_; }

 private:
  ParamId param_id_{};
  math::WideInt delta_;
  std::vector<std::uint64_t> delta_residues_;
  long double ratio_ = 0;
  std::int64_t max_message_ = 0;
};

class PlaintextNtt {
 public:
  PlaintextNtt() = default;
  // Signed integer coefficients (count <= N; e.g. int8 weights), lifted to
  // each q_i and NTT-transformed. @throws Error(invalid_argument) when count > N.
  static PlaintextNtt encode(const Context& context, const std::int64_t* coeffs, std::size_t count);
  static PlaintextNtt encode(const Context& context, const std::int8_t* coeffs, std::size_t count);

  ParamId param_id() const noexcept { return poly_.param_id(); }
  const RnsPoly& poly() const noexcept { return poly_; }  // NTT form

 private:
  RnsPoly poly_;
};

}  // namespace fhellm::he
