#include "common/bytes.h"

namespace fhellm {

void ByteWriter::blob(ByteView b) {
  if (b.size() > 0xffffffffu) {
    throw Error(ErrorCode::length_too_large,
                "blob of " + std::to_string(b.size()) + " bytes does not fit a u32 length");
  }
  u32(static_cast<std::uint32_t>(b.size()));
  bytes(b);
}

std::span<std::uint8_t> ByteWriter::append(std::size_t n) {
  const std::size_t at = out_.size();
  out_.resize(at + n, 0);
  return std::span<std::uint8_t>(out_.data() + at, n);
}

void ByteWriter::patch_u32(std::size_t offset, std::uint32_t v) {
  if (offset > out_.size() || out_.size() - offset < 4) {
    throw Error(ErrorCode::out_of_range, "patch_u32 at offset " + std::to_string(offset) + " of a buffer of " +
                                             std::to_string(out_.size()) + " bytes");
  }
  for (int i = 0; i < 4; ++i) out_[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

ByteView ByteReader::blob(std::size_t max_bytes, const char* field) {
  const std::uint32_t n = u32(field);
  if (n > max_bytes) {
    fail(ErrorCode::length_too_large, "field '" + std::string(field) + "' declares " + std::to_string(n) +
                                          " bytes, limit " + std::to_string(max_bytes));
  }
  return take(n, field);
}

std::uint32_t ByteReader::count(std::uint64_t max_count, std::size_t min_element_bytes, const char* field) {
  const std::uint32_t n = u32(field);
  if (n > max_count) {
    fail(ErrorCode::length_too_large,
         "count '" + std::string(field) + "' is " + std::to_string(n) + ", limit " + std::to_string(max_count));
  }
  need(static_cast<std::uint64_t>(n) * min_element_bytes, field);
  return n;
}

void ByteReader::expect_end() const {
  if (remaining() != 0) {
    fail(ErrorCode::trailing_bytes, std::to_string(remaining()) + " bytes after the last field");
  }
}

void ByteReader::fail(ErrorCode code, const std::string& message) const {
  throw Error(code, what_ + " at offset " + std::to_string(pos_) + ": " + message);
}

void ByteReader::fail_truncated(std::uint64_t n, const char* field) const {
  fail(ErrorCode::truncated, "field '" + std::string(field) + "' needs " + std::to_string(n) + " bytes, " +
                                 std::to_string(remaining()) + " left");
}

}  // namespace fhellm
