// Little-endian, bounds-checked byte writer and reader used by the wire
// messages (src/net) and the artifact formats (here, in hybrid, the lower
// layer of the two). The reader checks every read against the
// bytes left, and every length it returns against a caller's maximum before
// anything is allocated.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm::hybrid {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put_le(v, 2); }
  void u32(std::uint32_t v) { put_le(v, 4); }
  void u64(std::uint64_t v) { put_le(v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // u32 length then the bytes.
  void blob(std::span<const std::uint8_t> b) {
    u32(static_cast<std::uint32_t>(b.size()));
    bytes(b);
  }
  std::size_t size() const { return out_.size(); }

 private:
  void put_le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

class ByteReader {
 public:
  // `what` names the object in error messages ("linear_call payload").
  ByteReader(std::span<const std::uint8_t> in, std::string what) : in_(in), what_(std::move(what)) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(get_le(1, "u8")); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get_le(2, "u16")); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get_le(4, "u32")); }
  std::uint64_t u64() { return get_le(8, "u64"); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  float f32() {
    const std::uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  // The next n bytes (a view into the input). @throws Error(truncated).
  std::span<const std::uint8_t> bytes(std::size_t n, const char* field) {
    need(n, field);
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // u32 length (checked against max_bytes, then against the bytes left), then the bytes.
  // @throws Error(length_too_large | truncated).
  std::span<const std::uint8_t> blob(std::size_t max_bytes, const char* field) {
    const std::uint32_t n = u32();
    require(n <= max_bytes, ErrorCode::length_too_large,
            what_ + ": field '" + field + "' declares " + std::to_string(n) + " bytes, limit " +
                std::to_string(max_bytes));
    return bytes(n, field);
  }
  // A count read as u32, checked against max_count and against the bytes left
  // given that each element needs at least `min_element_bytes`.
  std::uint32_t count(std::uint64_t max_count, std::size_t min_element_bytes, const char* field) {
    const std::uint32_t n = u32();
    require(n <= max_count, ErrorCode::length_too_large,
            what_ + ": count '" + field + "' is " + std::to_string(n) + ", limit " + std::to_string(max_count));
    need(static_cast<std::size_t>(n) * min_element_bytes, field);
    return n;
  }
  std::size_t left() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  // @throws Error(trailing_bytes) when bytes remain.
  void expect_end() const {
    require(left() == 0, ErrorCode::trailing_bytes,
            what_ + ": " + std::to_string(left()) + " bytes after the last field");
  }
  const std::string& what() const { return what_; }

 private:
  void need(std::size_t n, const char* field) const {
    require(n <= left(), ErrorCode::truncated,
            what_ + ": field '" + field + "' needs " + std::to_string(n) + " bytes, " + std::to_string(left()) +
                " left");
  }
  std::uint64_t get_le(int n, const char* type) {
    need(static_cast<std::size_t>(n), type);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace fhellm::hybrid
