// Clear-domain model of the encrypted matrix product: the same layout, the
// same products and the same packing tree as LinearServer, run on plain
// polynomials of Z_q[X]/(X^N + 1) (schoolbook products, exact automorphisms,
// no noise). It pins down the index math of linear_layout.h independently of
// the cryptography; tests compare it with the integer matmul. O(N^2) per
// product: for tests with small N.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/linear_layout.h"
#include "math/modulus.h"

namespace fhellm::he::clear {

using Poly = std::vector<std::uint64_t>;  // N coefficients in [0, q)

// a(X^g), g odd < 2N.
Poly automorphism(const Poly& a, std::uint64_t galois_elt, const math::Modulus& q);
// a * X^e for any integer e.
Poly multiply_monomial(const Poly& a, std::int64_t exponent, const math::Modulus& q);

// The input polynomial of ct (g, c): x at its coefficients, zero elsewhere
// (the client's message, unscaled). x is T x k row-major.
Poly input_poly(const LinearGeometry& geo, const std::int32_t* x, std::uint32_t g, std::uint32_t c,
                const math::Modulus& q);
// The weight polynomial (s, c) as signed coefficients (length N). w is n x k row-major.
std::vector<std::int64_t> weight_poly(const LinearGeometry& geo, const std::int8_t* w, std::uint32_t s,
                                      std::uint32_t c);
// The trace of the packing tree multiplies the useful coefficients by k_w.
// The server undoes that with two constants instead of the client scaling
// its message by k_w^-1 (which would amplify the upload noise k_w times):
// the input ciphertexts are multiplied by input_scale = 2^-L mod q before the
// input-side automorphisms, the weight polynomials by weight_scale =
// (k_w / 2^L)^-1 mod q. Noise entering before a scaling is scaled back by the
// trace; noise entering after (input-side key switches) meets the inverse of
// exactly the trace levels that follow it, so neither is amplified.
std::uint64_t input_scale(const LinearGeometry& geo, const math::Modulus& q);
std::uint64_t weight_scale(const LinearGeometry& geo, const math::Modulus& q);

// Packing tree over the entries of one packed ct at level L = geo.input_levels
// (k_w / 2^L of them; with L = 0 the sparse results; missing ones are zero).
Poly pack_tree(const LinearGeometry& geo, std::vector<Poly> entries, const math::Modulus& q);

// Split point (L = geo.input_levels > 0): Galois element of input-side
// automorphism `mask` (bit j-1 set: the level-j element), and the folded weight
// polynomials of tree entry i of packed ct p for chunk c: 2^L signed
// polynomials indexed by mask, such that entry i at level L equals
// sum_c sum_mask sigma_mask(input_c) * folded[mask]. Empty when no sparse
// result feeds the entry. With L = 0: {weight_poly(s, c)}.
std::uint64_t input_galois_element(const LinearGeometry& geo, std::uint32_t mask);
std::vector<std::vector<std::int64_t>> folded_weight_polys(const LinearGeometry& geo, const std::int8_t* w,
                                                           std::uint32_t p, std::uint32_t i, std::uint32_t c);

// Y = X W^T through the layout (T x n, row-major), computed mod q and centred.
std::vector<std::int64_t> linear_product(const LinearGeometry& geo, const std::int32_t* x, const std::int8_t* w,
                                         const math::Modulus& q);

// Plain integer X W^T (T x n, row-major).
std::vector<std::int64_t> matmul(std::uint32_t rows, std::uint32_t in, std::uint32_t out, const std::int32_t* x,
                                 const std::int8_t* w);

}  // namespace fhellm::he::clear
