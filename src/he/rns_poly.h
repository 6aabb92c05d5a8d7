// RnsPoly: a polynomial of R_Q in RNS form, either in coefficient form or in
// NTT form (see math/ntt.h for the slot order).
//
// Layout: moduli_count() blocks of poly_degree() words, block i holding the
// residues mod q_i: coefficient (or slot) j of prime i is data()[i * N + j].
// Invariant: every value is in [0, q_i). Raw access is unchecked.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/context.h"
#include "he/params.h"

namespace fhellm::he {

// Tag of the constructors that leave the values to the caller (every one is
// written before it is read): no zero-fill pass over buffers that are about
// to be overwritten (the server builds thousands of them per call).
struct Uninitialized {};
inline constexpr Uninitialized kUninitialized{};

// std::allocator, except that value-initialization (resize, count
// constructor) leaves trivial values as they are.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class RnsPoly {
 public:
  RnsPoly() = default;
  // The zero polynomial of `context`, in the given form.
  explicit RnsPoly(const Context& context, bool ntt_form = false);
  // A polynomial of `context` whose values the caller writes (unspecified until then).
  RnsPoly(const Context& context, bool ntt_form, Uninitialized);

  ParamId param_id() const noexcept { return param_id_; }
  std::size_t poly_degree() const noexcept { return n_; }
  std::size_t moduli_count() const noexcept { return k_; }
  bool is_ntt_form() const noexcept { return ntt_form_; }
  void set_ntt_form(bool ntt_form) noexcept { ntt_form_ = ntt_form; }
  bool empty() const noexcept { return data_.empty(); }

  std::uint64_t* data() noexcept { return data_.data(); }
  const std::uint64_t* data() const noexcept { return data_.data(); }
  std::uint64_t* residues(std::size_t i) noexcept { return data_.data() + i * n_; }
  const std::uint64_t* residues(std::size_t i) const noexcept { return data_.data() + i * n_; }
  std::size_t size() const noexcept { return data_.size(); }  // k * N

  void set_zero() noexcept;

  // Signed integer coefficients (length <= N, rest zero) -> coefficient form.
  // @throws Error(invalid_argument) when more than N coefficients are given.
  static RnsPoly from_signed(const Context& context, const std::int64_t* coeffs, std::size_t count);

  friend bool operator==(const RnsPoly& a, const RnsPoly& b) noexcept {
    return a.param_id_ == b.param_id_ && a.ntt_form_ == b.ntt_form_ && a.data_ == b.data_;
  }

 private:
  ParamId param_id_{};
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  bool ntt_form_ = false;
  std::vector<std::uint64_t, DefaultInitAllocator<std::uint64_t>> data_;
};

// Whole-polynomial transforms (all k primes), in place; no-ops when the poly
// is already in the requested form.
void to_ntt(RnsPoly& poly, const Context& context);
void from_ntt(RnsPoly& poly, const Context& context);
// The inverse NTT of one residue polynomial (prime `prime` of `context`), on
// 32-bit lanes where the prime allows (the same values, 2.5 against 4.0 us
// for N = 2048, q < 2^27: bench NttInverse).
void inverse_ntt_residues(std::uint64_t* values, const Context& context, std::size_t prime);

// Checks that `poly` was made for `context` and has its shape.
// @throws Error(parameter_mismatch).
void check_poly(const RnsPoly& poly, const Context& context, const char* what);

}  // namespace fhellm::he
