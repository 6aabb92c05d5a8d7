// The embedding table as the server holds it for the encrypted lookup
// (lookup.h): W = E^T (width x V) in the layout of the lookup's plan, i.e.
// the linear layer's blocked, folded, NTT-form encoding (linear_weights.h)
// over C = ceil(V / N) chunks of N table rows, without the weights' constant
// (k_w / 2^L)^-1, which the server applies after the chunk selection
// (docs/embedding.md). Encoded once at load, shared read-only by every
// session and row count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "he/linear_weights.h"
#include "he/lookup_layout.h"

namespace fhellm::he {

class EncodedTable {
 public:
  // `table`: rows x width int8 values, row-major (the embedding [V, dim]),
  // each |v| <= 2^(value_bits - 1) - 1; encoded on `threads` threads.
  // @throws Error(invalid_argument) for shapes outside the lookup's limits,
  //         a size mismatch or a value out of range.
  EncodedTable(std::span<const std::int8_t> table, std::uint32_t rows, std::uint32_t width, int value_bits = 8,
               std::size_t threads = 1);

  std::uint32_t rows() const noexcept { return rows_; }
  std::uint32_t width() const noexcept { return width_; }
  int value_bits() const noexcept { return value_bits_; }
  std::size_t encoded_bytes() const noexcept { return encoding_.bytes(); }
  // The one-row plan the table is encoded for.
  const LookupPlan& plan() const noexcept { return plan_; }

  // The encoding a call of `plan` reads.
  // @throws Error(shape_mismatch) when the plan is for another table or layout.
  const EncodedWeights::Encoding& encoding(const LookupPlan& plan) const;

 private:
  std::uint32_t rows_, width_;
  int value_bits_;
  LookupPlan plan_;
  EncodedWeights::Encoding encoding_;
};

// The table for the online mode's offline product (docs/online.md section
// 10): W = E^T (width x rows) encoded for mask_table calls (linear_evaluate),
// in that precision's own layout, at weight privacy `privacy_bits`: 7 bytes
// per value beside the lookup's encoding. `table` as EncodedTable's.
// @throws Error(invalid_argument) for a size mismatch or shapes out of range,
//         Error(bad_parameters) when no layout holds the privacy bits.
EncodedWeights encode_table_masks(std::span<const std::int8_t> table, std::uint32_t rows, std::uint32_t width,
                                  int privacy_bits = 0, std::size_t threads = 1);

}  // namespace fhellm::he
