// Bytes, and the one little-endian byte writer and bounds-checked reader under
// every binary format of fhellm: HE objects (he/serialization), shared-mask
// keys, the encrypted product's messages, artifacts, wire messages and GGUF
// files. A format's layout lives in its own header; this file only moves
// integers in and out of bytes.
//
//   Bytes out;
//   ByteWriter w(out);
//   w.u32(7);
//   w.blob(payload);                            // u32 length, then the bytes
//
//   ByteReader r(out, "linear_call payload");   // names the object in errors
//   const std::uint32_t n = r.u32("n_rows");
//   const ByteView body = r.blob(kMaxBody, "body");
//   r.expect_end();
//
// Every read is checked against the bytes left before it touches memory and
// throws Error(truncated) naming the object, the field and the offset; every
// length or count is checked against the caller's maximum before anything is
// allocated (Error(length_too_large)). Values are little-endian whatever the
// host (the targets are x86-64, where the compiler turns the loops into loads).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Appends to a Bytes it does not own (the caller keeps the buffer).
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put_le(v, 2); }
  void u32(std::uint32_t v) { put_le(v, 4); }
  void u64(std::uint64_t v) { put_le(v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // u32 length, then the bytes. @throws Error(length_too_large) past 4 GiB - 1.
  void blob(ByteView b);
  // n zero bytes appended; returns them to be filled in place (bit packing).
  std::span<std::uint8_t> append(std::size_t n);
  // Overwrites the u32 at `offset` (a size known only at the end).
  // @throws Error(out_of_range) when it does not lie inside what was written
  void patch_u32(std::size_t offset, std::uint32_t v);

  // Bytes in the buffer (those before this writer included): the offset of the next write.
  std::size_t size() const { return out_.size(); }

 private:
  void put_le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

// Reads from a view it does not own; the view must outlive the reader and
// every span it returns.
class ByteReader {
 public:
  // `what` names the object in error messages ("linear_call payload").
  ByteReader(ByteView in, std::string what) : in_(in), what_(std::move(what)) {}

  // @throws Error(truncated) naming `field`, the offset and the bytes left
  std::uint8_t u8(const char* field = "u8") { return static_cast<std::uint8_t>(get_le(1, field)); }
  std::uint16_t u16(const char* field = "u16") { return static_cast<std::uint16_t>(get_le(2, field)); }
  std::uint32_t u32(const char* field = "u32") { return static_cast<std::uint32_t>(get_le(4, field)); }
  std::uint64_t u64(const char* field = "u64") { return get_le(8, field); }
  std::int8_t i8(const char* field = "i8") { return static_cast<std::int8_t>(u8(field)); }
  std::int16_t i16(const char* field = "i16") { return static_cast<std::int16_t>(u16(field)); }
  std::int32_t i32(const char* field = "i32") { return static_cast<std::int32_t>(u32(field)); }
  std::int64_t i64(const char* field = "i64") { return static_cast<std::int64_t>(u64(field)); }
  float f32(const char* field = "f32") {
    const std::uint32_t bits = u32(field);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  double f64(const char* field = "f64") {
    const std::uint64_t bits = u64(field);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }

  // The next n bytes (a view into the input). @throws Error(truncated)
  ByteView take(std::size_t n, const char* field = "bytes") {
    need(n, field);
    const ByteView out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // Copies the next out.size() bytes into `out`. @throws Error(truncated)
  void copy_to(std::span<std::uint8_t> out, const char* field = "bytes") {
    const ByteView in = take(out.size(), field);
    std::memcpy(out.data(), in.data(), in.size());
  }
  // @throws Error(truncated)
  void skip(std::size_t n, const char* field = "bytes") { take(n, field); }
  // u32 length (checked against max_bytes, then against the bytes left), then the bytes.
  // @throws Error(length_too_large | truncated)
  ByteView blob(std::size_t max_bytes, const char* field);
  // A count read as u32, checked against max_count and against the bytes left
  // given that each element needs at least `min_element_bytes`.
  // @throws Error(length_too_large | truncated)
  std::uint32_t count(std::uint64_t max_count, std::size_t min_element_bytes, const char* field);

  // @throws Error(truncated) unless n bytes are left.
  void need(std::uint64_t n, const char* field) const {
    if (n > remaining()) fail_truncated(n, field);
  }
  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t offset() const { return pos_; }
  // @throws Error(trailing_bytes) when bytes remain.
  void expect_end() const;
  // Throws Error(code) with "<what> at offset <offset>: <message>".
  [[noreturn]] void fail(ErrorCode code, const std::string& message) const;
  const std::string& what() const { return what_; }

 private:
  [[noreturn]] void fail_truncated(std::uint64_t n, const char* field) const;
  std::uint64_t get_le(int n, const char* field) {
    need(static_cast<std::size_t>(n), field);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }

  ByteView in_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace fhellm
