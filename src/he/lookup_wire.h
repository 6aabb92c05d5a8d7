// Internal: the 48-byte headers of the embedding lookup's upload and reply
// (layouts in src/he/lookup.h). The reader recomputes the plan from the
// shape and checks every field against it.
#pragma once

#include "common/bytes.h"
#include "he/lookup_layout.h"

namespace fhellm::he::wire {

// Bits of one select-record value: the body c0 mod Q, sent exactly.
int lookup_select_value_bits(const LookupPlan& plan) noexcept;

// Writes the header of `plan` (payload size 0, patched by wire::finish).
void write_lookup_header(ByteWriter& w, const LookupPlan& plan, bool reply);

// A header's fields, read and range-checked without planning (a server
// checks the shape against its table before it pays for a plan).
struct LookupHeader {
  LookupShape shape;
  int value_bits = 8;
  ParamId param_id{};
  std::uint32_t chunk_width = 0;
  int input_levels = 0, bits_a = 0, bits_b = 0, select_bits = 0, select_sparse_levels = 0;
};
// @throws Error(bad_magic | bad_version | bad_message | shape_mismatch |
//         length_too_large | truncated | trailing_bytes | unknown_parameter_id).
LookupHeader read_lookup_header_fields(ByteReader& r, bool reply);

// The fields, then every one against the plan recomputed from them.
// @throws as read_lookup_header_fields, Error(parameter_mismatch).
LookupPlan read_lookup_header(ByteReader& r, bool reply);

}  // namespace fhellm::he::wire
