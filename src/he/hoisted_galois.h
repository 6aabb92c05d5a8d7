// Hoisted automorphisms (Halevi-Shoup): many Galois elements applied to one
// ciphertext. A key switch spends most of its time decomposing c1 into gadget
// digits and transforming them (digits x primes forward NTTs). The digits of
// sigma_g(c1) are sigma_g of the digits of c1, and in NTT form sigma_g is a
// slot permutation: so the digits are computed and transformed once, and
// each element then costs one permutation and one multiply-accumulate with
// its key. The linear layer's split point uses it for the 2^L - 1 input-side
// automorphisms of each input ciphertext (docs/linear.md).
#pragma once

#include <span>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "he/ciphertext.h"
#include "he/context.h"
#include "he/gadget_decomposition.h"
#include "he/keys.h"

namespace fhellm::he {

// Galois keys laid out for hoisted use: key digit d of element g stored with
// its slots moved by the automorphism (K'[perm_g[j]] = K[j]) in 32-bit words,
// so that the multiply-accumulate reads the unpermuted transformed digits and
// only the two output polynomials are permuted (not every digit). Built once
// per session by the server. Empty (has() false for all) when the context has
// no 32-bit pipeline; apply_galois then needs the GaloisKeys form.
class HoistedGaloisKeys {
 public:
  HoistedGaloisKeys() = default;
  // @throws Error(parameter_mismatch) for keys of another context.
  HoistedGaloisKeys(const Context& context, const GaloisKeys& keys);

  bool has(std::uint64_t galois_elt) const noexcept { return elements_.count(galois_elt) != 0; }
  int decomposition_bits() const noexcept { return w_; }
  Gadget gadget() const noexcept { return Gadget{w_, base_}; }
  std::size_t bytes() const noexcept;
  std::size_t element_count() const noexcept { return elements_.size(); }

 private:
  friend class HoistedCiphertext;
  struct Element {
    std::vector<std::uint32_t> b, a;  // digit d, prime l at [(d * k + l) * N]
  };
  ParamId param_id_{};
  int w_ = 0;
  GadgetBase base_ = GadgetBase::per_prime;
  std::size_t digits_ = 0;
  std::map<std::uint64_t, Element> elements_;
};

class HoistedCiphertext {
 public:
  // ct in either form; decomposition_bits: the gadget width of the keys that
  // apply_galois will use. @throws Error(parameter_mismatch) for a foreign
  // ciphertext, Error(invalid_argument) for a width outside 1..61.
  HoistedCiphertext(ContextPtr context, const Ciphertext& ct, const Gadget& gadget);
  HoistedCiphertext(ContextPtr context, const Ciphertext& ct, int decomposition_bits)
      : HoistedCiphertext(std::move(context), ct, Gadget{decomposition_bits}) {}

  // sigma_g(ct) switched back to s (decrypts to m(X^g)), in NTT form. Safe to
  // call from several threads at once.
  // @throws Error(missing_galois_key), Error(parameter_mismatch) when the key
  // has another gadget, Error(invalid_argument) for an element that is not odd
  // and below 2N.
  Ciphertext apply_galois(std::uint64_t galois_elt, const GaloisKeys& keys) const;
  // The same with the hoisted layout of the keys (when fast() and keys.has(g);
  // the result is identical). @throws Error(missing_galois_key),
  // Error(parameter_mismatch) for another context or gadget, Error(invalid_argument)
  // when !fast().
  Ciphertext apply_galois(std::uint64_t galois_elt, const HoistedGaloisKeys& keys) const;
  // True when the digits were hoisted (the 32-bit pipeline applies).
  bool fast() const noexcept { return c1_.fast(); }

  // out[r] = cts[r]->apply_galois(galois_elt, keys) for every r (identical
  // results), with each piece of the key read once for all of them while it
  // is in cache: the key streams once per batch instead of once per
  // ciphertext. All must be fast() and of one context and gadget.
  // @throws as apply_galois; Error(invalid_argument) when out and cts differ in size.
  static void apply_galois_batch(std::span<const HoistedCiphertext* const> cts, std::uint64_t galois_elt,
                                 const HoistedGaloisKeys& keys, std::span<Ciphertext> out);

  // The batch's results before their slot permutation (apply_galois_batch
  // permutes them into its ciphertexts; a caller with a layout of its own
  // needs no ciphertext in between, as apply_galois_batch_blocked below):
  // emit(r, l, t0, t1) gets row r's residues mod prime l of c0 and c1 with
  // slot j of sigma_g(ct) at t[perm[j]], perm =
  // context.automorphism_permutation(galois_elt). @throws as apply_galois_batch.
  using SumsSink = std::function<void(std::size_t r, std::size_t l, const std::uint64_t* t0, const std::uint64_t* t1)>;
  static void apply_galois_batch_sums(std::span<const HoistedCiphertext* const> cts, std::uint64_t galois_elt,
                                      const HoistedGaloisKeys& keys, const SumsSink& emit);

  // Several elements in one pass, each result written straight into the
  // linear layer's blocked layout (math/blocked_product.h): element
  // galois_elts[i] of row r, prime l, goes to `where(i, r, l)` (c0's slot
  // block 0; c1's at + part_offset words), its slot blocks block_stride words
  // apart, the words of a block in blocked_slot_word order. No sums or
  // ciphertexts in between: the multiply-accumulate, the addition of c0 and
  // the permutation are one pass (math::dot_pair_blocked_u32). Each piece of
  // every row's digits is read once for all elements (many rows: the digits,
  // not the keys, are what leaves the cache). @throws as apply_galois_batch.
  using BlockedSink = std::function<std::uint32_t*(std::size_t i, std::size_t r, std::size_t l)>;
  static void apply_galois_batch_blocked(std::span<const HoistedCiphertext* const> cts,
                                         std::span<const std::uint64_t> galois_elts, const HoistedGaloisKeys& keys,
                                         const BlockedSink& where, std::size_t part_offset, std::size_t block_stride);

 private:
  // The keys of galois_elts after the checks every batch makes.
  static std::vector<const HoistedGaloisKeys::Element*> batch_keys(std::span<const HoistedCiphertext* const> cts,
                                                                   std::span<const std::uint64_t> galois_elts,
                                                                   const HoistedGaloisKeys& keys);

  ContextPtr context_;
  Ciphertext ct_;     // NTT form
  std::vector<std::uint32_t> c0_words_;  // ct_.c0 in 32-bit words when fast() (prime l at l N)
  DecomposedPoly c1_;  // the digits of c1; without the 32-bit pipeline
                       // apply_galois runs an ordinary key switch on a copy
};

// The Galois elements of every input-side automorphism of the linear layer's
// split point: products of the non-empty subsets of {2^j + 1 : j = 1..levels}
// (mod 2N), in ascending order (31 for levels = 5).
std::vector<std::uint64_t> composed_galois_elements(std::size_t poly_degree, int levels);

}  // namespace fhellm::he
