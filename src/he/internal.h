// Helpers shared by the he/*.cpp files; not part of the public API.
#pragma once

#include <cstddef>
#include <vector>

#include "he/context.h"
#include "he/prng.h"
#include "he/rns_poly.h"

namespace fhellm::he {

// expand_seed into an existing poly (reshaped if needed): avoids a fresh
// allocation per encryption.
void expand_seed_into(const Context& context, const Seed& seed, RnsPoly& out);

// e (centred binomial with the set's eta) in NTT form, drawn from `prng`.
RnsPoly sample_error_ntt(const Context& context, Prng& prng);

// The a_ij of a key switching key: `count` uniform NTT-form polys drawn in
// order from one seed.
std::vector<RnsPoly> expand_key_masks(const Context& context, const Seed& seed, std::size_t count);

// c * s for a word-modulus polynomial c (N values < 2^61) and a ternary s
// given in both aux NTT forms, as exact signed integers (|.| < N * 2^61),
// through the context's two auxiliary 61-bit primes.
std::vector<__int128> multiply_by_ternary_exact(const Context& context, const std::uint64_t* c,
                                                const std::vector<std::uint64_t>& s_aux_ntt);
// The same product for c below `small_ternary_operand_bound(context)`
// (N c < p0 / 2: the first aux prime alone holds it), reduced mod `modulus`
// (a power of two): the mask-side products of a reply's decryption, at half
// the transforms.
std::uint64_t small_ternary_operand_bound(const Context& context) noexcept;
std::vector<std::uint64_t> multiply_by_ternary_mod_pow2(const Context& context, const std::uint64_t* c,
                                                        const std::vector<std::uint64_t>& s_aux_ntt,
                                                        std::uint64_t modulus);
// s (ternary) in the aux NTT form expected above: 2 blocks of N.
std::vector<std::uint64_t> ternary_aux_ntt(const Context& context, const std::vector<std::int8_t>& s);

}  // namespace fhellm::he
