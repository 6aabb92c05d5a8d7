// Internal helpers of the encrypted matrix product shared by the weight
// encoding (linear_weights.cpp) and the server (linear_server.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "he/ciphertext.h"
#include "he/context.h"
#include "he/rns_poly.h"

namespace fhellm::he {
class EncodedWeights;
class LinearServerKeys;
struct LinearSessionKeys;
}  // namespace fhellm::he

namespace fhellm::he::detail {

// linear_evaluate without the reply's flood (the re-randomization and its
// fresh errors kept): only for the tests that show what the flood hides
// (tests/he/weight_privacy_test.cpp). No server calls it.
std::vector<std::uint8_t> linear_evaluate_unflooded(std::span<const std::uint8_t> upload,
                                                    const EncodedWeights& weights, const LinearServerKeys& keys,
                                                    std::size_t threads);

// The session keys' byte format (linear.h, "FHLK"): the header, then one
// parameter set's keys. LinearServerKeys::save and the client's
// LinearClient::server_key_bytes write the same bytes.
void write_linear_keys_header(ByteWriter& w, std::size_t sets);
void write_linear_key_set(ByteWriter& w, const LinearSessionKeys& keys);

// inverse(v) mod q_i for every prime: the server's constants 2^-L (inputs) and
// (k_w / 2^L)^-1 (weights), clear::input_scale and clear::weight_scale.
std::vector<std::uint64_t> inverse_residues(const Context& ctx, std::uint64_t v);
// 2^bits mod q_i for every prime: a companion row's factor (LinearPlan::companion_shift).
std::vector<std::uint64_t> power_of_two_residues(const Context& ctx, int bits);

// Whether this context's weights and rotated inputs use the 32-bit blocked
// product (math/blocked_product.h): every prime below 2^27 (the weights are
// held in 27-bit fields).
bool linear_words32(const Context& ctx) noexcept;

// round(v * Q / 2^u) mod q_i for every prime: the body value the server
// rebuilds from an upload value v of u bits (coefficient form).
void rebuild_body(const Context& ctx, const std::vector<std::uint64_t>& v, int u, RnsPoly& c0);

// The transform of the monomial X^s for every prime, with 32-bit Shoup
// constants: the packing tree multiplies by X^s in NTT form. Made once per
// (parameter set, shift) and kept.
struct MonomialSlots {
  std::vector<std::vector<std::uint64_t>> value, shoup;  // [prime][slot]
};
const MonomialSlots& monomial_slots(const Context& ctx, std::size_t s);

// One merge of the packing tree in NTT form: even <- E + X^s O, returns
// E - X^s O (X^s as the pointwise product with its transform).
Ciphertext monomial_butterfly(const Context& ctx, Ciphertext& even, const Ciphertext& odd, const MonomialSlots& m);

}  // namespace fhellm::he::detail
