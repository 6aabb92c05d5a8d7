// One gadget decomposition, several key switches. A key switch spends most of
// its time cutting its input into gadget digits and transforming them (digits
// x primes forward NTTs); the multiply-accumulate with a key is cheap. When
// one polynomial is switched with several keys (the sources of a shared-mask
// reply meet every target's key; hoisted automorphisms permute the digits),
// the digits are computed once here.
#pragma once

#include <cstdint>
#include <vector>

#include "he/context.h"
#include "he/keys.h"
#include "he/rns_poly.h"

namespace fhellm::he {

// The 32-bit pipeline of a key switch (every prime < 2^30 with the 32-bit NTT,
// every digit below every prime), shared by Evaluator::key_switch and
// DecomposedPoly. True when it applies to width w on this context.
bool gadget_words32(const Context& context, int decomposition_bits);
// The gadget digits of c (coefficient form), each lifted to every prime and
// transformed: digit d for prime l at out[(d * k + l) * N] (digits x k x N words).
// c_ntt, when given, is c in NTT form: a prime cut into two digits then takes
// its top digit's own transform from it (math::gadget_top_digit_ntt_u32: one
// forward NTT fewer per such prime, the same words).
void gadget_digits_words32(const Context& context, const RnsPoly& c, int decomposition_bits, std::uint32_t* out,
                           const RnsPoly* c_ntt = nullptr);
// True when composed keys (GadgetBase::composed) of width w work on this
// context: two primes, each below 2^30 with the 32-bit NTT, every digit below
// both primes, at most four digits whose 64-bit sums hold.
bool composed_gadget_supported(const Context& context, int decomposition_bits);
// The composed gadget's digits of c (coefficient form, both residues), each
// lifted to both primes and transformed, in gadget_digits_words32's layout.
// c_ntt, when given, is c in NTT form: a three-digit gadget then takes its
// top digit's transforms from it (math::composed_top_digit_ntt_u32: four
// forward NTTs instead of six). Requires composed_gadget_supported.
void gadget_digits_composed_words32(const Context& context, const RnsPoly& c, int decomposition_bits,
                                    std::uint32_t* out, const RnsPoly* c_ntt = nullptr);
// (out0, out1) = sum_d digit_d * (key.b[d], key.a[d]), NTT form, from those
// digits. The key's gadget must be the digits' (callers check).
void gadget_accumulate_words32(const Context& context, const std::uint32_t* digits, const KeySwitchKey& key,
                               RnsPoly& out0, RnsPoly& out1);

class DecomposedPoly {
 public:
  // c in either form, for keys of this gadget (per prime or composed).
  // @throws Error(parameter_mismatch) for a foreign polynomial,
  // Error(invalid_argument) for a width outside 1..61 or a composed gadget
  // the context does not support.
  DecomposedPoly(ContextPtr context, const RnsPoly& c, const Gadget& gadget);
  DecomposedPoly(ContextPtr context, const RnsPoly& c, int decomposition_bits)
      : DecomposedPoly(std::move(context), c, Gadget{decomposition_bits}) {}

  // (out0, out1) in NTT form with out0 + out1 s = c s' + noise, for a key from
  // s' to s; the same values as Evaluator::key_switch.
  // @throws Error(parameter_mismatch) when the key has another gadget
  // (width or base).
  void key_switch(const KeySwitchKey& key, RnsPoly& out0, RnsPoly& out1) const;

  // True when the digits are held (32-bit pipeline: every prime < 2^30 with the
  // 32-bit NTT); otherwise key_switch runs an ordinary key switch.
  bool fast() const noexcept { return !digits32_.empty(); }
  // Whether decompositions of this width on this context are fast().
  static bool fast_for(const Context& context, int decomposition_bits) {
    return gadget_words32(context, decomposition_bits);
  }
  static bool fast_for(const Context& context, const Gadget& gadget);
  std::size_t digit_count() const noexcept { return digits_; }
  int decomposition_bits() const noexcept { return w_; }
  Gadget gadget() const noexcept { return Gadget{w_, base_}; }
  // Digit d for prime l, NTT form, N words (fast() only).
  const std::uint32_t* digit(std::size_t d, std::size_t l) const noexcept {
    return digits32_.data() + (d * k_ + l) * n_;
  }
  const ContextPtr& context() const noexcept { return context_; }

 private:
  ContextPtr context_;
  int w_;
  GadgetBase base_ = GadgetBase::per_prime;
  std::size_t n_ = 0, k_ = 0, digits_ = 0;
  std::vector<std::uint32_t> digits32_;
  RnsPoly coeff_;  // the input in coefficient form (the fallback path)
};

}  // namespace fhellm::he
