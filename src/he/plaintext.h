// Plaintext-side objects.
//  - Scale: the Delta of coefficient encoding, phase = Delta * m + e. Usually
//    Delta = floor(Q / t) for a "plain modulus" t: signed messages with
//    |m| < t/2 (minus the noise margin) decrypt exactly.
//  - PlaintextNtt: a small-integer polynomial (weights) lifted to R_Q and
//    transformed ONCE to NTT form, then reused for any number of products.
//  - PlaintextNtt32: the same values stored in 32-bit words, for contexts
//    whose primes are all below 2^32 (n2048_q54). Half the memory of a
//    PlaintextNtt, and half the bytes read per product: the server's weights
//    and the memory-bound LM-head products.
//
// PlaintextNtt32 layout (in memory, like RnsPoly): moduli_count() blocks of
// poly_degree() uint32 words, block i holding the NTT slots mod q_i: slot j of
// prime i is data()[i * N + j]; every value is in [0, q_i).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/context.h"
#include "he/rns_poly.h"
#include "math/wide_int.h"

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
  // The same polynomial multiplied by a constant: factor[i] (mod q_i, one per
  // prime, each < q_i), e.g. an inverse that only exists mod Q.
  // @throws Error(invalid_argument) when count > N or factor has the wrong size.
  static PlaintextNtt encode_scaled(const Context& context, const std::int64_t* coeffs, std::size_t count,
                                    const std::vector<std::uint64_t>& factor);

  ParamId param_id() const noexcept { return poly_.param_id(); }
  const RnsPoly& poly() const noexcept { return poly_; }  // NTT form

 private:
  friend class PlaintextNtt32;  // widen() fills poly_ directly
  RnsPoly poly_;
};

class PlaintextNtt32 {
 public:
  PlaintextNtt32() = default;
  // True when every prime of `context` is below 2^32 (the type is usable).
  static bool supported(const Context& context) noexcept;

  // Same values as PlaintextNtt::encode, stored in 32 bits.
  // @throws Error(invalid_argument) when count > N or a prime of the context
  // is >= 2^32.
  static PlaintextNtt32 encode(const Context& context, const std::int64_t* coeffs, std::size_t count);
  static PlaintextNtt32 encode(const Context& context, const std::int8_t* coeffs, std::size_t count);
  static PlaintextNtt32 encode_scaled(const Context& context, const std::int64_t* coeffs, std::size_t count,
                                      const std::vector<std::uint64_t>& factor);
  // Narrowing copy of an NTT-form plaintext.
  // @throws Error(invalid_argument) when a prime is >= 2^32,
  // Error(parameter_mismatch) when `pt` was made for another context.
  static PlaintextNtt32 from(const Context& context, const PlaintextNtt& pt);

  // The same plaintext in 64-bit words (tests, fallback paths).
  PlaintextNtt widen(const Context& context) const;

  ParamId param_id() const noexcept { return param_id_; }
  std::size_t poly_degree() const noexcept { return n_; }
  std::size_t moduli_count() const noexcept { return k_; }
  bool empty() const noexcept { return data_.empty(); }
  const std::uint32_t* data() const noexcept { return data_.data(); }
  const std::uint32_t* residues(std::size_t i) const noexcept { return data_.data() + i * n_; }
  std::size_t size() const noexcept { return data_.size(); }  // k * N
  std::size_t bytes() const noexcept { return data_.size() * sizeof(std::uint32_t); }

  friend bool operator==(const PlaintextNtt32& a, const PlaintextNtt32& b) noexcept {
    return a.param_id_ == b.param_id_ && a.n_ == b.n_ && a.data_ == b.data_;
  }

 private:
  ParamId param_id_{};
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  std::vector<std::uint32_t> data_;
};

// Checks that `pt` was made for `context` and has its shape.
// @throws Error(parameter_mismatch).
void check_plaintext(const PlaintextNtt32& pt, const Context& context, const char* what);

}  // namespace fhellm::he
