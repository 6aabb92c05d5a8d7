// Plan of the encrypted embedding lookup: T ids into a table of V rows of
// `width` int8 values, read under encryption (docs/embedding.md). Pure index
// math and models: no cryptography here.
//
// The lookup is the linear layer of k = V one-hot inputs and n = width
// outputs (W = E^T), cut into C = ceil(V / N) chunks of k_w = N inputs: the
// client encrypts its id's position inside its chunk as the one-hot input of
// one chunk (coefficient id mod N holds 1), and the chunk index as
// `select_bits` encrypted bits. The server computes, for every chunk, the
// product's tree entries after the split point (linear_layout.h) from that
// one input, selects the chunk's entries with a tree of external products
// (the CMux of GSW/RGSW schemes), then packs and replies as the linear layer
// does. The bits reach the server as scalars b * g_d (g_d the gadget of the
// external product) packed into one more ciphertext that it expands
// (query_expansion.h) and completes into selection keys (rgsw.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "he/linear_layout.h"
#include "he/params.h"

namespace fhellm::he {

// One call: `rows` ids (T) into a table of `table_rows` rows (V) of `width`
// values each (the model's dim).
struct LookupShape {
  std::uint32_t rows = 0;
  std::uint32_t table_rows = 0;
  std::uint32_t width = 0;
  friend bool operator==(const LookupShape&, const LookupShape&) = default;
};

// Hard limits (checked at every boundary).
inline constexpr std::uint32_t kLookupMaxRows = kLinearMaxRows;       // ids per call
inline constexpr std::uint32_t kLookupMaxTableRows = kLinearMaxTableIn;  // 262144
inline constexpr std::uint32_t kLookupMaxWidth = kLinearMaxIn;        // 8192

// The lookup runs on n2048_q54 (two 27-bit primes, the 32-bit pipeline).
inline constexpr ParamId kLookupParamId = ParamId::n2048_q54;
// Gadget width of the external products that select a chunk (6 digits).
inline constexpr int kLookupSelectDecompositionBits = 9;
// Gadget width of the session's square key s^2 -> s (6 digits).
inline constexpr int kLookupSquareKeyBits = 9;

// Noise of a lookup plan, variances in units of the R_Q phase
// (docs/embedding.md, section "Noise").
struct LookupNoise {
  double z = 7.6;           // P(|noise| > z sigma) <= 2^-40 per value
  double upload = 0;        // the one-hot input's fresh error and body rounding times the table values
  double input_side = 0;    // input-side key switches times the folded table polynomials
  double select = 0;        // the external products of the chunk selection (every level)
  double expansion = 0;     // one expanded scalar b g_d (what the selection keys carry)
  double packing = 0;       // packing tree, re-randomization, shared masks
  double download_body = 0;
  double download_mask = 0;
  double flood = 0;
  double body_bound = 0;    // |body rounding| <= this, outright
  double allowed = 0;       // Delta / 2: every value decrypts exactly below it
  double total() const noexcept {
    return upload + input_side + select + packing + download_body + download_mask + flood;
  }
  // min(z sqrt(total), body_bound + z sqrt(total - download_body)).
  double bound() const;
};

struct LookupPlan {
  LookupShape shape;
  // The product of one chunk: geometry {T, min(V, N), width} with k_w = N,
  // T_w = 1 and the split point; the reply's widths, flood, mask groups and
  // gadgets (what the linear layer's packing and reply steps read).
  LinearPlan linear;
  std::uint32_t chunks = 0;            // C = ceil(V / N)
  int select_bits = 0;                 // ceil(log2 C): encrypted bits of the chunk index
  int select_decomposition_bits = 0;   // w of the external products
  std::size_t select_digits = 0;       // D: gadget digits of the external products
  int expansion_levels = 0;            // m: 2^m >= select_bits * D outputs of the expansion
  // a: trace levels run before the m (the even child only, one key switch
  // each): the client puts scalar i at i 2^a and the select record carries
  // only the body positions p with p mod 2^(m + a) = i 2^a, i < select_bits
  // * D, the ones that reach a kept output (docs/embedding.md, "Sparse
  // select record"); levels with j = log2 N - l <= 5 use the session's
  // input-side keys.
  int select_sparse_levels = 0;
  int expansion_decomposition_bits = 0;  // the expansion's keys (the session's sequential keys)
  int value_bits = 8;                  // |table value| <= 2^(value_bits - 1) - 1
  LookupNoise noise;

  std::size_t expanded_scalars() const noexcept { return static_cast<std::size_t>(select_bits) * select_digits; }
  // m + a: the levels the server runs on the select record.
  int expansion_total_levels() const noexcept { return expansion_levels + select_sparse_levels; }
  // The body positions the select record carries, ascending (none when V <= N).
  std::vector<std::uint32_t> select_positions() const;
  // Key switches of the expansion of one select record (every level's live
  // branches), and those of them on the input-side keys (j <= 5).
  std::size_t expansion_key_switches() const noexcept;
  std::size_t expansion_input_key_switches() const noexcept;
  // Whether the server packs each chunk's entries before selecting the chunk
  // (docs/embedding.md, "Pack, then select"): allowed where no packed ct
  // holds two ids' entries, chosen where its key switches cost less. The
  // reply, its noise and its bytes are the same either way.
  bool packs_first() const noexcept;
  // Models (docs/embedding.md).
  std::size_t bytes_up() const noexcept;
  std::size_t bytes_down() const noexcept { return linear.bytes_down(); }
  std::size_t products() const noexcept;            // ciphertext x plaintext products
  std::size_t external_products() const noexcept;   // selection: entries x (C - 1) per row
  std::size_t key_switches() const noexcept;        // input side, expansion, square key, packing trees
  std::size_t weight_bytes() const noexcept;        // server memory of the encoded table
  double server_ms_model() const noexcept;          // single-core estimate (ranks split points)
};

// Gadget digits of width w over the set's primes.
std::size_t lookup_gadget_digits(ParamId id, int decomposition_bits) noexcept;

// The plan of a call: the split point with the lowest server_ms_model whose
// noise bound holds (memoized per (V, width, value_bits)), with shape.rows
// row groups. Widths are per value: one layout serves every row count.
// @throws Error(invalid_argument) for shapes out of the limits or value_bits
//         outside 2..8, Error(bad_parameters) when no split holds the bound.
LookupPlan plan_lookup(LookupShape shape, int value_bits = 8);

std::string describe(const LookupPlan& plan);

}  // namespace fhellm::he
