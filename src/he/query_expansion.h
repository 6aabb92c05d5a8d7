// Query expansion (SealPIR, Angel et al. S&P 2018, Algorithm 3 "ExpandQuery"):
// one ciphertext of m(X) becomes 2^levels ciphertexts, output a holding the
// coefficients of m at a + k 2^levels (k = 0, 1, ...) at X^(k 2^levels).
// Level l (0-based) splits every ciphertext c by the automorphism
// X -> X^(N / 2^l + 1), which fixes the positions that are multiples of
// 2^(l+1) and negates the others in the current frame:
//   even child  c + sigma(c)               (the even positions, doubled)
//   odd child   (c - sigma(c)) X^(-2^l)    (the odd ones, doubled, moved down)
// The server multiplies c by 2^-levels mod Q first, so the doublings restore
// the message and the input's noise exactly (at the kept positions every
// level's automorphism is the identity); only the key switches' noise is
// added, the one of level l doubled by each of the levels after it.
// docs/embedding.md derives it.
#pragma once

#include <cstddef>
#include <vector>

#include "he/ciphertext.h"
#include "he/evaluator.h"
#include "he/hoisted_galois.h"
#include "he/keys.h"

namespace fhellm::he {

// The Galois element of expansion level l for degree N: N / 2^l + 1.
std::uint64_t expansion_galois_element(std::size_t poly_degree, int level) noexcept;

// Expands `ct` (either form) into its first `outputs` (<= 2^levels) outputs,
// in NTT form, on `threads` threads of the common pool. Only the branches
// that lead to a kept output are computed.
// @throws Error(invalid_argument) for outputs outside 1..2^levels or levels
//         above log2(N), Error(missing_galois_key) when `keys` lacks an element.
std::vector<Ciphertext> expand_query(const Evaluator& ev, Ciphertext ct, int levels, std::size_t outputs,
                                     const GaloisKeys& keys, std::size_t threads = 1);
// The same where `keys` lacks some levels' elements and `more` holds them
// (levels with j <= 5 on the session's input-side keys in their hoisted
// 32-bit layout), and where the first `trace_levels` (a) levels keep only the
// even child: a trace that zeroes every position not a multiple of 2^a (the
// garbage of a sparse record included, docs/embedding.md), one key switch
// per level. Output o then holds the coefficients at o 2^a + k 2^levels, at
// X^(k 2^levels); outputs <= 2^(levels - a).
std::vector<Ciphertext> expand_query(const Evaluator& ev, Ciphertext ct, int levels, std::size_t outputs,
                                     const GaloisKeys& keys, const HoistedGaloisKeys* more, int trace_levels,
                                     std::size_t threads = 1);

}  // namespace fhellm::he
