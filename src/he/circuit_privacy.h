// The noise a server adds to every reply so that it shows the client no more
// about the weights than X W^T (docs/linear.md section 6):
//  - the re-randomization's fresh errors: u * Enc(0) + (e1, e2), so that the
//    reply's mask is an RLWE sample under the fresh secret u;
//  - the flood: per sent body value F = 2^shift C + V, C = round(sigma' g)
//    with g a standard normal (Box-Muller on 53-bit uniforms from the AES-CTR
//    stream: |g| <= 8.6) and sigma' = sigma / 2^shift < 2^49 (so C is exact
//    in a double), V uniform in [-2^(shift-1), 2^(shift-1)) (0 when
//    shift = 0). For an integer shift d, KL(F + d || F) <= (|d| + 2^shift)^2
//    / (2 sigma^2) for the ideal Gaussian g; the sampler follows it to double
//    precision and cuts its tail beyond 8.57 (probability 2^-53 per pair).
// Randomness: the server's Prng, seeded per call from RAND_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "he/context.h"
#include "he/prng.h"
#include "he/rns_poly.h"

namespace fhellm::he {

// Adds a centred binomial error (the set's error_binomial_eta) to every
// coefficient of `poly` (coefficient form), or to `positions` only when given.
void add_fresh_error(const Context& context, RnsPoly& poly, Prng& rng, std::span<const std::uint32_t> positions = {});

// Adds an independent flood of standard deviation `sigma` (granularity
// 2^shift, see above) to each coefficient `positions` of `poly` (coefficient
// form). @throws Error(invalid_argument) for sigma / 2^shift >= 2^49 or
// shift outside 0..61.
void add_flood(const Context& context, RnsPoly& poly, std::span<const std::uint32_t> positions, double sigma,
               int shift, Prng& rng);

// count values round(sigma * g), g standard normal. @throws
// Error(invalid_argument) for sigma outside [0, 2^49).
void sample_rounded_gaussian(Prng& rng, double sigma, std::int64_t* out, std::size_t count);

}  // namespace fhellm::he
