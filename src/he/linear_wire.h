// Internal: the byte layer of the encrypted matrix product's messages (the
// layouts are documented in src/he/linear.h) over the common
// ByteWriter / ByteReader: the 48-byte header of uploads and replies, and
// bit-packed value runs. The header reader recomputes the plan and checks every
// field against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "he/linear_layout.h"

namespace fhellm::he::wire {

// Largest payload of one upload or reply.
inline constexpr std::uint64_t kMaxLinearMessage = std::uint64_t{1} << 31;

// Header fields of an upload (reply = false) or a reply.
struct Header {
  bool reply = false;
  LinearPrecision precision{};
  bool input_signed = false;
  ParamId param_id{};
  int privacy_bits = 0;  // LinearPlan::privacy_bits
  LinearShape shape;
  std::uint32_t chunk_width = 0, rows_per_ct = 0;
  std::uint8_t bits_a = 0, bits_b = 0;  // upload: u, 0; reply: body, mask
};

// Writes the header of `plan` (payload size 0, patched by finish()).
void write_header(ByteWriter& w, const Header& h, const LinearPlan& plan);
// Patches the payload size of the message in `out` (its header first).
void finish(Bytes& out);

// Parses and validates a header's fields (ranges, the payload size against
// the bytes present), without planning: cheap, so that a server checks the
// shape against its layer before any work. @throws Error(bad_magic |
// bad_version | bad_message | shape_mismatch | length_too_large | truncated |
// trailing_bytes | unknown_parameter_id).
void read_header_fields(ByteReader& r, bool reply, Header& h);

// Parses and validates a header, recomputes the plan and checks that every
// layout field agrees with it. @throws Error(bad_magic | bad_version |
// bad_message | shape_mismatch | length_too_large | truncated |
// trailing_bytes | parameter_mismatch).
LinearPlan read_header(ByteReader& r, bool reply, Header& h);

// `count` values of `width` bits (padded to a byte), each < limit.
// @throws Error(truncated | coefficient_out_of_range | bad_message).
std::vector<std::uint64_t> read_values(ByteReader& r, std::size_t count, int width, std::uint64_t limit);
void write_values(ByteWriter& w, const std::vector<std::uint64_t>& v, int width);

}  // namespace fhellm::he::wire
