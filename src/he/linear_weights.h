// One layer's weights W (n x k int8) as the server holds them: encoded once,
// at load, in the layer's resident layout (linear_resident_layout) for each
// precision the server serves, and shared read-only by every session and
// every row count. docs/linear.md, "One encoding for every row count".
//
// Each weight polynomial of the layout is folded for the split point
// (clear::folded_weight_polys), scaled by (k_w / 2^L)^-1 mod q and
// NTT-transformed. Narrow parameter sets (every prime < 2^30) store them
// blocked for the server's product kernel (math/blocked_product.h):
//   word (((l * NB + b) * E + e) * M + m) * 16 + blocked_slot_word(s)
// holds NTT slot b * 16 + s, prime l, of term m (chunk c, input-side mask
// mask: m = c * 2^L + mask) of entry e (the live tree entries of one row,
// packed-ct major), with NB = N / 16 blocks, E entries and M terms; each unit
// of 16 words is packed into 54 bytes (27-bit fields: the n2048_q54 primes
// are below 2^27), 3.375 bytes per slot and prime instead of 4. A call streams
// the array once per block of rows, unpacking one (prime, block) slice at a
// time. Other sets keep one PlaintextNtt per (entry, term).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "he/linear_layout.h"
#include "he/plaintext.h"

namespace fhellm::he {

class EncodedWeights {
 public:
  // Frees the blocked array (allocated 2 MiB-aligned, on huge pages where the
  // kernel grants them: fewer page faults at load, fewer TLB misses when a
  // call streams the weights).
  struct WordsDeleter {
    void operator()(std::uint8_t* p) const noexcept;
  };
  // One precision's encoding.
  struct Encoding {
    LinearPrecision precision{};
    LinearLayout layout;
    LinearGeometry geometry;            // of one row
    std::size_t entries = 0;            // E: live tree entries of one row
    std::size_t terms = 0;              // M: chunks x 2^L
    std::vector<std::size_t> first_entry;  // [packed_per_group + 1]: entries before packed ct p
    // Narrow sets (see above): blocked_units units of 16 words, each packed
    // into 27-bit fields (math::kPackedUnitBytes = 54 bytes: the primes are
    // below 2^27), every one written by the encoder (no zero-fill pass).
    std::unique_ptr<std::uint8_t[], WordsDeleter> blocked;
    std::size_t blocked_units = 0;
    std::vector<PlaintextNtt> wide;        // other sets: [entry * M + term]
    std::size_t bytes() const noexcept;
  };

  // Encodes W (row-major, out x in) for every precision in `precisions`, on
  // `threads` threads, in the resident layouts of weight privacy
  // `privacy_bits` (linear_layout.h; the only one its calls may ask for).
  // @throws Error(invalid_argument) for shapes outside 1..131072 x 1..8192,
  //         a size mismatch, no precision or privacy bits out of range,
  //         Error(bad_parameters) when no layout reaches the privacy bits.
  EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in,
                 std::span<const LinearPrecision> precisions, std::size_t threads = 1, int privacy_bits = 0);
  // The default precision only.
  EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in);

  std::uint32_t out() const noexcept { return out_; }
  std::uint32_t in() const noexcept { return in_; }
  bool holds(LinearPrecision precision) const noexcept;
  int privacy_bits() const noexcept { return privacy_bits_; }
  // Bytes held by the encodings (equals the sum of LinearPlan::weight_bytes()).
  std::size_t encoded_bytes() const noexcept;

  // The encoding a call of `plan` uses.
  // @throws Error(shape_mismatch) when the plan is for another shape or
  //         layout, Error(precision_not_served) when its precision or its
  //         privacy bits are not held.
  const Encoding& encoding(const LinearPlan& plan) const;

 private:
  std::uint32_t out_, in_;
  int privacy_bits_ = 0;
  std::vector<Encoding> encodings_;
};

}  // namespace fhellm::he
