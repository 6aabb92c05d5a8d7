#include "he/lookup_table.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "fhellm/error.h"
#include "he/weight_encoding.h"

namespace fhellm::he {

EncodedTable::EncodedTable(std::span<const std::int8_t> table, std::uint32_t rows, std::uint32_t width,
                           int value_bits, std::size_t threads)
    : rows_(rows), width_(width), value_bits_(value_bits), plan_(plan_lookup({1, rows, width}, value_bits)) {
  require(table.size() == std::size_t{rows} * width, ErrorCode::invalid_argument,
          "lookup table: " + std::to_string(table.size()) + " values for " + std::to_string(rows) + " x " +
              std::to_string(width));
  const int max = (1 << (value_bits - 1)) - 1;
  const bool in_range = std::all_of(table.begin(), table.end(), [max](std::int8_t v) { return std::abs(v) <= max; });
  require(in_range, ErrorCode::invalid_argument, "lookup table: a value outside +-" + std::to_string(max));
  const std::vector<std::uint64_t> one(2, 1);  // no constant: applied after the selection
  encoding_ = detail::encode_blocked({table.data(), width, rows, true}, plan_.linear.geo, plan_.chunks,
                                     plan_.linear.param_id, one, threads);
  encoding_.precision = LinearPrecision::exact;
  encoding_.layout = {plan_.linear.param_id, plan_.linear.geo.chunk_width, plan_.linear.geo.input_levels};
}

const EncodedWeights::Encoding& EncodedTable::encoding(const LookupPlan& plan) const {
  require(plan.shape.table_rows == rows_ && plan.shape.width == width_ && plan.value_bits == value_bits_,
          ErrorCode::shape_mismatch,
          "lookup table is " + std::to_string(rows_) + " x " + std::to_string(width_) + " (" +
              std::to_string(value_bits_) + "-bit), the call is for " + std::to_string(plan.shape.table_rows) +
              " x " + std::to_string(plan.shape.width) + " (" + std::to_string(plan.value_bits) + "-bit)");
  require(plan.linear.geo.input_levels == plan_.linear.geo.input_levels && plan.chunks == plan_.chunks,
          ErrorCode::shape_mismatch, "lookup table: the call's layout differs from the encoded one");
  return encoding_;
}

EncodedWeights encode_table_masks(std::span<const std::int8_t> table, std::uint32_t rows, std::uint32_t width,
                                  int privacy_bits, std::size_t threads) {
  require(table.size() == std::size_t{rows} * width, ErrorCode::invalid_argument,
          "table masks: " + std::to_string(table.size()) + " values for " + std::to_string(rows) + " x " +
              std::to_string(width));
  std::vector<std::int8_t> w(table.size());  // E^T: one row per table column
  for (std::size_t v = 0; v < rows; ++v)
    for (std::size_t d = 0; d < width; ++d) w[d * rows + v] = table[v * width + d];
  const LinearPrecision masks[] = {LinearPrecision::mask_table};
  return EncodedWeights(w, width, rows, masks, threads, privacy_bits);
}

}  // namespace fhellm::he
