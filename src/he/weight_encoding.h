// Internal: how a matrix of int8 values becomes the server's blocked,
// NTT-form encoding of a layout (linear_weights.h describes the array). Used
// by the linear layer's weights (EncodedWeights) and by the embedding
// lookup's table (lookup_table.h), which share the layout of a chunked
// product with a split point and differ in which matrix they fold, how many
// chunks they hold and the constant they scale by.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/linear_layout.h"
#include "he/linear_weights.h"

namespace fhellm::he::detail {

// A read-only view of an n x k int8 matrix W (n rows = outputs, k columns =
// inputs). Row-major W, or W^T stored row-major (transposed: the embedding
// table E is [vocab, dim] and the lookup multiplies by W = E^T).
struct WeightMatrix {
  const std::int8_t* data = nullptr;
  std::uint64_t rows = 0;  // n
  std::uint64_t cols = 0;  // k
  bool transposed = false;
  std::int8_t at(std::uint64_t r, std::uint64_t c) const noexcept {
    return transposed ? data[c * rows + r] : data[r * cols + c];
  }
};

// Encodes `w` for `geo` (a one-row geometry: its chunk width, split point and
// output count; its own `chunks` field is ignored) over `chunks` chunks of
// k_w columns (chunk c: columns c k_w ..), every folded polynomial scaled by
// `scale` (one residue per prime) and NTT-transformed, on `threads` threads.
// Term m of entry e is chunk m / 2^L, input-side mask m % 2^L. Narrow sets
// only (every prime below 2^27: the blocked array of 27-bit fields).
// @throws Error(invalid_argument) for a context without the 32-bit pipeline.
EncodedWeights::Encoding encode_blocked(const WeightMatrix& w, const LinearGeometry& geo, std::uint32_t chunks,
                                        ParamId param_id, const std::vector<std::uint64_t>& scale,
                                        std::size_t threads);

}  // namespace fhellm::he::detail
