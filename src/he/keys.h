// Keys.
//  - SecretKey: ternary s, kept as int8 coefficients and in NTT form. Never
//    leaves the client except through save_secret_key (tests, local files).
//  - KeySwitchKey: switches a polynomial c multiplied by a key s' into a pair
//    multiplied by (1, s). Gadget: RNS digits, each residue c_i (centred) cut
//    into balanced base-2^w digits d_ij, with
//      key_ij = (b_ij, a_ij),  b_ij = -a_ij s + e_ij + [mod q_i] 2^(w j) s',
//    the "[mod q_i]" meaning the term is added in the q_i residue only
//    (it is (Q/q_i) [(Q/q_i)^-1]_{q_i} 2^(wj) s' mod Q). Then
//      sum_ij d_ij (b_ij + a_ij s) = c s' + sum_ij d_ij e_ij.
//    digits_per_prime[i] = ceil(bits(q_i) / w). All polys in NTT form; the
//    a_ij are expanded from one public seed (so keys serialize at half size).
//    A composed key (GadgetBase::composed, params.h) cuts the coefficient
//    mod Q instead: b_j = -a_j s + e_j + 2^(w j) s' in every prime,
//    sum_j d_j (b_j + a_j s) = c s' + sum_j d_j e_j with d_j the balanced
//    digits of c mod Q (centred); digits_per_prime is then empty.
//  - GaloisKeys: KeySwitchKeys from s(X^g) to s, one per Galois element g
//    (odd, < 2N), for automorphisms X -> X^g. Public (given to the server).
#pragma once

#include <memory>

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "he/context.h"
#include "he/prng.h"
#include "he/rns_poly.h"

namespace fhellm::he {

class SecretKey {
 public:
  SecretKey() = default;
  // Uniform ternary secret from a fresh RAND_bytes seed.
  static SecretKey generate(const Context& context);
  // From explicit coefficients in {-1, 0, 1} (N of them; tests, loading).
  // @throws Error(invalid_argument) on other values or counts.
  static SecretKey from_coefficients(const Context& context, std::vector<std::int8_t> coeffs);

  ParamId param_id() const noexcept { return ntt_.param_id(); }
  const std::vector<std::int8_t>& coefficients() const noexcept { return coeffs_; }
  const RnsPoly& ntt() const noexcept { return ntt_; }  // s in NTT form mod each q_i

 private:
  std::vector<std::int8_t> coeffs_;
  RnsPoly ntt_;
};

struct KeySwitchKey {
  int decomposition_bits = 0;                 // w
  GadgetBase base = GadgetBase::per_prime;
  std::vector<std::size_t> digits_per_prime;  // L_i (per_prime keys; empty for composed ones)
  Seed a_seed{};                              // the a_ij are expand_seed-like draws from it
  std::vector<RnsPoly> b;                     // flattened (i, j) i-major, NTT form
  std::vector<RnsPoly> a;                     // idem (expanded from a_seed)
  // b and a again in 32-bit words (digit d, prime l at [(d k + l) N]) when
  // every prime is below 2^30: what the 32-bit key switch reads, half the
  // bytes of b and a (compact_key_words32; empty otherwise).
  std::shared_ptr<const std::vector<std::uint32_t>> b32, a32;
  // Digits b32 and a32 hold (set with them): the count of a key whose 64-bit
  // words were dropped (drop_key_words64).
  std::size_t digits32 = 0;

  std::size_t digit_count() const noexcept { return b.empty() ? digits32 : b.size(); }
  Gadget gadget() const noexcept { return Gadget{decomposition_bits, base}; }
  ParamId param_id() const noexcept { return b.empty() ? ParamId{} : b.front().param_id(); }
};

// Fills key.b32 and key.a32 (no-op unless every prime of `context` is below 2^30).
void compact_key_words32(const Context& context, KeySwitchKey& key);
// Keeps only the 32-bit words the key switches read (a server's loaded
// session keys: two thirds of a key's bytes); such a key cannot be saved.
// No-op without them (compact_key_words32 did not apply).
void drop_key_words64(KeySwitchKey& key);

class GaloisKeys {
 public:
  ParamId param_id() const noexcept { return param_id_; }
  bool has(std::uint64_t galois_elt) const noexcept { return keys_.count(galois_elt) != 0; }
  // @throws Error(missing_galois_key).
  const KeySwitchKey& get(std::uint64_t galois_elt) const;
  const std::map<std::uint64_t, KeySwitchKey>& keys() const noexcept { return keys_; }

  void insert(ParamId id, std::uint64_t galois_elt, KeySwitchKey key);

 private:
  ParamId param_id_{};
  std::map<std::uint64_t, KeySwitchKey> keys_;
};

// drop_key_words64 for every key of a set.
void drop_key_words64(GaloisKeys& keys);

// Gadget digits per prime for a digit width w. @throws Error(invalid_argument)
// unless 1 <= w <= 61.
std::vector<std::size_t> gadget_digits(const Context& context, int decomposition_bits);
// Digits of one key switch with `gadget` on this context (gadget_digit_count).
// @throws Error(invalid_argument) unless 1 <= w <= 61, or for a composed
// gadget the context does not support (composed_gadget_supported).
std::size_t key_switch_digits(const Context& context, const Gadget& gadget);

// Key switching key from `from_key` (coefficients in {-1,0,1}, N of them) to `sk`.
// @throws Error(invalid_argument), Error(parameter_mismatch).
KeySwitchKey make_key_switch_key(const Context& context, const SecretKey& sk, std::span<const std::int8_t> from_key,
                                 int decomposition_bits);

// Key switching key from any source polynomial (NTT form, same context) to
// `sk`, with a per-prime or (where supported) composed gadget.
// @throws Error(invalid_argument), Error(parameter_mismatch).
KeySwitchKey make_key_switch_key(const Context& context, const SecretKey& sk, const RnsPoly& source,
                                 int decomposition_bits, GadgetBase base = GadgetBase::per_prime);

// Key switching key from s^2 to s (a relinearization key): switches c * s^2
// to a pair under s. The embedding lookup turns encryptions of m into
// encryptions of m s with it (rgsw.h). Public, like Galois keys.
// @throws Error(invalid_argument), Error(parameter_mismatch).
KeySwitchKey make_square_key(const Context& context, const SecretKey& sk, int decomposition_bits);

// Galois keys for the given elements (each odd, in [3, 2N)); w = 0 picks the
// parameter set's default. @throws Error(invalid_argument), Error(parameter_mismatch).
GaloisKeys make_galois_keys(const Context& context, const SecretKey& sk, std::span<const std::uint64_t> galois_elts,
                            int decomposition_bits = 0, GadgetBase base = GadgetBase::per_prime);

// Element g such that X -> X^g is the automorphism used by PackLWEs at level
// l (g = 2^l + 1), and for all levels 1..log2(N).
std::vector<std::uint64_t> packing_galois_elements(std::size_t poly_degree);

// s(X^g) for ternary coefficients: returns the permuted/negated coefficients.
std::vector<std::int8_t> apply_galois_to_ternary(std::span<const std::int8_t> coeffs, std::uint64_t galois_elt);

}  // namespace fhellm::he
