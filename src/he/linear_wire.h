// Internal: the byte layer of the encrypted matrix product's messages (the
// layouts are documented in include/fhellm/he/linear.h): a little-endian
// writer, a checked reader, the 48-byte header of uploads and replies, and
// bit-packed value runs. The header reader recomputes the plan and checks every
// field against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fhellm/he/linear_layout.h"

namespace fhellm::he::wire {

// Largest payload of one upload or reply.
inline constexpr std::uint64_t kMaxLinearMessage = std::uint64_t{1} << 31;

struct Writer {
  std::vector<std::uint8_t> out;
  void u8(std::uint8_t v) { out.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void bytes(const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }
  void zeros(std::size_t n) { out.insert(out.end(), n, 0); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
};

// Reads from `in`; every read past the end throws Error(truncated) naming `what`.
struct Reader {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  const char* what;
  void need(std::size_t n) const;
  std::uint64_t le(int n);
  std::span<const std::uint8_t> take(std::size_t n);
  std::size_t left() const noexcept { return in.size() - pos; }
};

// Header fields of an upload (reply = false) or a reply.
struct Header {
  bool reply = false;
  LinearPrecision precision{};
  bool input_signed = false;
  ParamId param_id{};
  LinearShape shape;
  std::uint32_t chunk_width = 0, rows_per_ct = 0;
  std::uint8_t bits_a = 0, bits_b = 0;  // upload: u, 0; reply: body, mask
};

// Writes the header of `plan` (payload size 0, patched by finish()).
void write_header(Writer& w, const Header& h, const LinearPlan& plan);
void finish(Writer& w);

// Parses and validates a header, recomputes the plan and checks that every
// layout field agrees with it. @throws Error(bad_magic | bad_version |
// bad_message | shape_mismatch | length_too_large | truncated |
// trailing_bytes | parameter_mismatch).
LinearPlan read_header(Reader& r, bool reply, Header& h);

// `count` values of `width` bits (padded to a byte), each < limit.
// @throws Error(truncated | coefficient_out_of_range | bad_message).
std::vector<std::uint64_t> read_values(Reader& r, std::size_t count, int width, std::uint64_t limit);
void write_values(Writer& w, const std::vector<std::uint64_t>& v, int width);

}  // namespace fhellm::he::wire
