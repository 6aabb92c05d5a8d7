#include "hybrid/online_wire.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <string>

#include "fhellm/error.h"
#include "he/bit_packing.h"
#include "he/linear_layout.h"

namespace fhellm::hybrid::online {
namespace {

constexpr std::uint8_t kQueryMagic[4] = {'F', 'H', 'O', 'Q'};
constexpr std::uint8_t kInfoMagic[4] = {'F', 'H', 'O', 'I'};
constexpr std::uint8_t kRowsMagic[4] = {'F', 'H', 'O', 'U'};
constexpr std::uint8_t kResultMagic[4] = {'F', 'H', 'O', 'R'};
constexpr std::uint8_t kEncryptedMagic[4] = {'F', 'H', 'L', 'U'};

bool starts_with(ByteView payload, const std::uint8_t (&magic)[4]) noexcept {
  return payload.size() >= 4 && std::memcmp(payload.data(), magic, 4) == 0;
}

void write_head(ByteWriter& w, const std::uint8_t (&magic)[4]) {
  w.bytes(ByteView(magic, 4));
  w.u16(kOnlineFormatVersion);
  w.u16(0);
}

void read_head(ByteReader& r, const std::uint8_t (&magic)[4]) {
  require(std::memcmp(r.take(4, "magic").data(), magic, 4) == 0, ErrorCode::bad_magic, r.what() + ": bad magic");
  const std::uint16_t version = r.u16("version");
  require(version == kOnlineFormatVersion, ErrorCode::bad_version,
          r.what() + ": version " + std::to_string(version) + ", this build reads " +
              std::to_string(kOnlineFormatVersion));
  require(r.u16("reserved") == 0, ErrorCode::bad_message, r.what() + ": reserved field is not 0");
}

// A table's rows travel mod 2^8 (he::kOnlineTableModulus, never a product's
// modulus: those are >= 2 * 127 * 128 + 1), and k is its vocabulary.
void check_shape(const std::string& what, std::uint32_t rows, std::uint32_t k, std::uint32_t n, std::uint64_t p) {
  const std::uint32_t max_k = p == he::kOnlineTableModulus ? he::kLinearMaxTableIn : he::kLinearMaxIn;
  require(rows <= he::kLinearMaxRows && k >= 1 && k <= max_k && n >= 1 && n <= he::kLinearMaxOut,
          ErrorCode::shape_mismatch,
          what + ": shape T=" + std::to_string(rows) + " k=" + std::to_string(k) + " n=" + std::to_string(n) +
              " out of range");
}

void check_modulus(const std::string& what, std::uint32_t k, std::uint64_t p) {
  if (p == he::kOnlineTableModulus) return;  // a table's (check_shape held k)
  const std::uint64_t want = he::linear_online_modulus(k).p;
  require(p == want, ErrorCode::parameter_mismatch,
          what + ": modulus " + std::to_string(p) + ", the online modulus of k=" + std::to_string(k) + " is " +
              std::to_string(want));
}

// The bit stream of he/bit_packing.h (value i at bits [i w, (i + 1) w), least
// significant first) for widths up to 32, 32 bits at a time.
void pack_u32(std::span<const std::uint32_t> values, int width, std::uint8_t* out) {
  std::uint64_t acc = 0;
  int held = 0;
  for (const std::uint32_t v : values) {
    acc |= static_cast<std::uint64_t>(v) << held;
    held += width;
    if (held >= 32) {
      for (int b = 0; b < 4; ++b) *out++ = static_cast<std::uint8_t>(acc >> (8 * b));
      acc >>= 32;
      held -= 32;
    }
  }
  for (; held > 0; held -= 8, acc >>= 8) *out++ = static_cast<std::uint8_t>(acc);
}

void unpack_u32(const std::uint8_t* in, std::size_t bytes, std::size_t count, int width, std::uint32_t* out) {
  const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
  std::uint64_t acc = 0;
  int held = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    while (held < width) {  // 32 bits at a time, bytes at the tail
      if (pos + 4 <= bytes) {
        std::uint64_t word = 0;
        for (int b = 0; b < 4; ++b) word |= static_cast<std::uint64_t>(in[pos + b]) << (8 * b);
        acc |= word << held;
        held += 32;
        pos += 4;
      } else {
        acc |= static_cast<std::uint64_t>(in[pos++]) << held;
        held += 8;
      }
    }
    out[i] = static_cast<std::uint32_t>(acc & mask);
    acc >>= width;
    held -= width;
  }
}

void write_values(ByteWriter& w, std::span<const std::uint32_t> values, std::uint64_t p) {
  bool in_range = true;
  for (const std::uint32_t v : values) in_range &= v < p;
  if (!in_range) throw Error(ErrorCode::invalid_argument, "online payload: a value is not below the modulus");
  const int width = he::bit_width_for_modulus(p);
  pack_u32(values, width, w.append(he::packed_size_bytes(values.size(), width)).data());
}

// count values < p at bits(p - 1) bits, padded with zero bits; nothing after them.
std::vector<std::uint32_t> read_values(ByteReader& r, std::size_t count, std::uint64_t p) {
  const int width = he::bit_width_for_modulus(p);
  const std::size_t bytes = he::packed_size_bytes(count, width);
  require(r.remaining() >= bytes, ErrorCode::truncated,
          r.what() + ": " + std::to_string(count) + " values need " + std::to_string(bytes) + " bytes, " +
              std::to_string(r.remaining()) + " present");
  const ByteView raw = r.take(bytes, "values");
  r.expect_end();
  const std::size_t used = count * static_cast<std::size_t>(width);
  if (used % 8 != 0)
    require((raw.back() >> (used % 8)) == 0, ErrorCode::bad_message, r.what() + ": padding bits are not zero");
  std::vector<std::uint32_t> out(count);
  unpack_u32(raw.data(), raw.size(), count, width, out.data());
  std::size_t bad = count;
  for (std::size_t i = count; i-- > 0;)
    if (out[i] >= p) bad = i;
  if (bad != count)
    throw Error(ErrorCode::coefficient_out_of_range,
                r.what() + ": value " + std::to_string(bad) + " is not below the modulus " + std::to_string(p));
  return out;
}

}  // namespace

PayloadKind payload_kind(ByteView payload) noexcept {
  if (starts_with(payload, kRowsMagic)) return PayloadKind::online_rows;
  if (starts_with(payload, kQueryMagic)) return PayloadKind::online_query;
  if (starts_with(payload, kEncryptedMagic)) return PayloadKind::encrypted_rows;
  return PayloadKind::other;
}

std::uint64_t online_modulus(bool table, std::uint32_t k) {
  return table ? he::kOnlineTableModulus : he::linear_online_modulus(k).p;
}

WeightsDigest weights_digest(std::uint32_t wire_id, std::uint32_t n, std::uint32_t k, std::span<const std::int8_t> w,
                             bool table) {
  static constexpr char kTag[] = "fhellm-online-weights-1";
  Bytes head;
  ByteWriter hw(head);
  hw.bytes(ByteView(reinterpret_cast<const std::uint8_t*>(kTag), sizeof kTag - 1));
  hw.u32(wire_id);
  hw.u32(n);
  hw.u32(k);
  hw.u64(online_modulus(table, k));  // material made for another modulus is another layer's
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  WeightsDigest out{};
  unsigned len = 0;
  require(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
              EVP_DigestUpdate(ctx.get(), head.data(), head.size()) == 1 &&
              EVP_DigestUpdate(ctx.get(), w.data(), w.size()) == 1 &&
              EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size(),
          ErrorCode::internal_error, "weights digest: OpenSSL SHA-256 failed");
  return out;
}

Bytes encode_online_query() {
  Bytes out;
  ByteWriter w(out);
  write_head(w, kQueryMagic);
  return out;
}

void decode_online_query(ByteView payload) {
  ByteReader r(payload, "online query");
  read_head(r, kQueryMagic);
  r.expect_end();
}

Bytes encode_online_info(const std::vector<OnlineLayerInfo>& layers) {
  Bytes out;
  ByteWriter w(out);
  write_head(w, kInfoMagic);
  w.u32(static_cast<std::uint32_t>(layers.size()));
  for (const OnlineLayerInfo& l : layers) {
    w.u32(l.wire_id);
    w.u32(l.n);
    w.u32(l.k);
    w.u64(l.p);
    w.bytes(l.digest);
  }
  return out;
}

std::vector<OnlineLayerInfo> decode_online_info(ByteView payload) {
  ByteReader r(payload, "online info");
  read_head(r, kInfoMagic);
  const std::uint32_t count = r.count(kMaxOnlineLayers, 52, "layers");
  std::vector<OnlineLayerInfo> out(count);
  for (OnlineLayerInfo& l : out) {
    l.wire_id = r.u32("wire id");
    l.n = r.u32("n");
    l.k = r.u32("k");
    l.p = r.u64("p");
    r.copy_to(l.digest, "digest");
    check_shape(r.what(), 1, l.k, l.n, l.p);
    check_modulus(r.what(), l.k, l.p);
  }
  r.expect_end();
  return out;
}

Bytes encode_online_rows(const OnlineRows& rows) {
  check_shape("online rows", rows.rows, rows.k, rows.n, rows.p);
  const bool table = rows.p == he::kOnlineTableModulus;
  const std::size_t count = table ? rows.bytes.size() : rows.values.size();
  require(rows.rows >= 1 && count == std::size_t{rows.rows} * rows.k &&
              (table ? rows.values.empty() : rows.bytes.empty()),
          ErrorCode::invalid_argument,
          "online rows: " + std::to_string(count) + (table ? " bytes" : " values") + " for " +
              std::to_string(rows.rows) + " x " + std::to_string(rows.k));
  Bytes out;
  ByteWriter w(out);
  write_head(w, kRowsMagic);
  w.u32(rows.rows);
  w.u32(rows.k);
  w.u32(rows.n);
  w.u64(rows.p);
  w.bytes(rows.digest);
  if (table)  // 8 bits a value: the bytes themselves
    w.bytes(ByteView(rows.bytes.data(), rows.bytes.size()));
  else
    write_values(w, rows.values, rows.p);
  return out;
}

namespace {

// The fixed fields of FHOU, checked; `r` is left at the values.
OnlineRows read_rows_head(ByteReader& r) {
  read_head(r, kRowsMagic);
  OnlineRows out;
  out.rows = r.u32("rows");
  out.k = r.u32("k");
  out.n = r.u32("n");
  out.p = r.u64("p");
  r.copy_to(out.digest, "digest");
  check_shape(r.what(), out.rows, out.k, out.n, out.p);
  require(out.rows >= 1, ErrorCode::shape_mismatch, r.what() + ": no row");
  check_modulus(r.what(), out.k, out.p);
  return out;
}

}  // namespace

OnlineRows peek_online_rows(ByteView payload) {
  ByteReader r(payload, "online rows");
  OnlineRows out = read_rows_head(r);
  const std::size_t bytes = he::packed_size_bytes(std::size_t{out.rows} * out.k, he::bit_width_for_modulus(out.p));
  require(r.remaining() >= bytes, ErrorCode::truncated,
          r.what() + ": " + std::to_string(bytes) + " bytes of values needed, " + std::to_string(r.remaining()) +
              " present");
  r.take(bytes, "values");
  r.expect_end();
  return out;
}

OnlineRows decode_online_rows(ByteView payload) {
  ByteReader r(payload, "online rows");
  OnlineRows out = read_rows_head(r);
  const std::size_t count = std::size_t{out.rows} * out.k;
  if (out.p == he::kOnlineTableModulus) {
    require(r.remaining() >= count, ErrorCode::truncated,
            r.what() + ": " + std::to_string(count) + " bytes of values needed, " + std::to_string(r.remaining()) +
                " present");
    const ByteView raw = r.take(count, "values");
    r.expect_end();
    out.bytes.assign(raw.begin(), raw.end());
    return out;
  }
  out.values = read_values(r, count, out.p);
  return out;
}

Bytes encode_online_result(std::uint32_t rows, std::uint32_t n, std::uint64_t p, std::span<const std::uint32_t> values) {
  require(values.size() == std::size_t{rows} * n, ErrorCode::invalid_argument, "online result: wrong value count");
  Bytes out;
  ByteWriter w(out);
  write_head(w, kResultMagic);
  w.u32(rows);
  w.u32(n);
  w.u64(p);
  write_values(w, values, p);
  return out;
}

std::vector<std::uint32_t> decode_online_result(ByteView payload, std::uint32_t rows, std::uint32_t n,
                                                std::uint64_t p) {
  ByteReader r(payload, "online result");
  read_head(r, kResultMagic);
  const std::uint32_t got_rows = r.u32("rows"), got_n = r.u32("n");
  require(got_rows == rows && got_n == n, ErrorCode::shape_mismatch,
          r.what() + ": " + std::to_string(got_rows) + " x " + std::to_string(got_n) + ", the call was " +
              std::to_string(rows) + " x " + std::to_string(n));
  const std::uint64_t got_p = r.u64("p");
  require(got_p == p, ErrorCode::parameter_mismatch, r.what() + ": modulus differs from the call's");
  return read_values(r, std::size_t{rows} * n, p);
}

}  // namespace fhellm::hybrid::online
