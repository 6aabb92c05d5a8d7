#include "he/linear_wire.h"

#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "fhellm/he/bit_packing.h"
#include "fhellm/he/linear.h"

namespace fhellm::he::wire {
namespace {

constexpr std::uint8_t kUploadMagic[4] = {'F', 'H', 'L', 'U'};
constexpr std::uint8_t kReplyMagic[4] = {'F', 'H', 'L', 'R'};

}  // namespace

void Reader::need(std::size_t n) const {
  // The message is built only on failure (this runs for every field).
  if (n > in.size() - pos)
    throw Error(ErrorCode::truncated, std::string(what) + ": needs " + std::to_string(n) + " more bytes at offset " +
                                          std::to_string(pos) + ", " + std::to_string(in.size() - pos) + " left");
}

std::uint64_t Reader::le(int n) {
  need(static_cast<std::size_t>(n));
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{in[pos + i]} << (8 * i);
  pos += static_cast<std::size_t>(n);
  return v;
}

std::span<const std::uint8_t> Reader::take(std::size_t n) {
  need(n);
  auto s = in.subspan(pos, n);
  pos += n;
  return s;
}

void write_header(Writer& w, const Header& h, const LinearPlan& plan) {
  w.bytes(h.reply ? kReplyMagic : kUploadMagic, 4);
  w.u16(kLinearFormatVersion);
  w.u8(static_cast<std::uint8_t>(plan.precision));
  w.u8(plan.input_signed ? 1 : 0);
  w.u16(static_cast<std::uint16_t>(plan.param_id));
  w.u16(0);  // reserved
  w.u32(plan.geo.shape.rows);
  w.u32(plan.geo.shape.in);
  w.u32(plan.geo.shape.out);
  w.u32(plan.geo.chunk_width);
  w.u32(plan.geo.rows_per_ct);
  w.u8(h.bits_a);
  w.u8(h.bits_b);
  w.zeros(6);
  w.u64(0);  // payload size, patched by finish()
}

void finish(Writer& w) {
  const std::uint64_t payload = w.out.size() - kLinearHeaderBytes;
  for (int i = 0; i < 8; ++i) w.out[40 + i] = static_cast<std::uint8_t>(payload >> (8 * i));
}

LinearPlan read_header(Reader& r, bool reply, Header& h) {
  const std::string what = r.what;
  const auto magic = r.take(4);
  require(std::memcmp(magic.data(), reply ? kReplyMagic : kUploadMagic, 4) == 0, ErrorCode::bad_magic,
          what + ": bad magic");
  const auto version = r.le(2);
  require(version == kLinearFormatVersion, ErrorCode::bad_version,
          what + ": version " + std::to_string(version) + ", expected " + std::to_string(kLinearFormatVersion));
  const auto prec = r.le(1);
  require(prec == 1 || prec == 2, ErrorCode::bad_message, what + ": bad precision " + std::to_string(prec));
  h.precision = static_cast<LinearPrecision>(prec);
  const auto sgn = r.le(1);
  require(sgn <= 1, ErrorCode::bad_message, what + ": bad signedness flag");
  h.input_signed = sgn == 1;
  h.param_id = param_id_from_u16(static_cast<std::uint16_t>(r.le(2)));
  require(r.le(2) == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  h.shape.rows = static_cast<std::uint32_t>(r.le(4));
  h.shape.in = static_cast<std::uint32_t>(r.le(4));
  h.shape.out = static_cast<std::uint32_t>(r.le(4));
  require(h.shape.rows >= 1 && h.shape.rows <= kLinearMaxRows && h.shape.in >= 1 && h.shape.in <= kLinearMaxIn &&
              h.shape.out >= 1 && h.shape.out <= kLinearMaxOut,
          ErrorCode::shape_mismatch,
          what + ": shape T=" + std::to_string(h.shape.rows) + " k=" + std::to_string(h.shape.in) +
              " n=" + std::to_string(h.shape.out) + " out of range");
  h.chunk_width = static_cast<std::uint32_t>(r.le(4));
  h.rows_per_ct = static_cast<std::uint32_t>(r.le(4));
  h.bits_a = static_cast<std::uint8_t>(r.le(1));
  h.bits_b = static_cast<std::uint8_t>(r.le(1));
  for (int i = 0; i < 6; ++i) require(r.le(1) == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  const std::uint64_t payload = r.le(8);
  require(payload <= kMaxLinearMessage, ErrorCode::length_too_large, what + ": payload too large");
  require(payload <= r.left(), ErrorCode::truncated,
          what + ": payload of " + std::to_string(payload) + " bytes, " + std::to_string(r.left()) + " present");
  require(payload == r.left(), ErrorCode::trailing_bytes, what + ": trailing bytes");

  LinearPlan plan = plan_linear(h.shape, h.precision, h.input_signed);
  require(plan.param_id == h.param_id, ErrorCode::parameter_mismatch,
          what + ": parameter set " + std::to_string(static_cast<int>(h.param_id)) + " but this shape uses " +
              std::string(parameter_set(plan.param_id).name));
  require(plan.geo.chunk_width == h.chunk_width && plan.geo.rows_per_ct == h.rows_per_ct,
          ErrorCode::parameter_mismatch,
          what + ": layout k_w=" + std::to_string(h.chunk_width) + " T_w=" + std::to_string(h.rows_per_ct) +
              " differs from the plan");
  if (!reply) {
    require(h.bits_a == plan.upload_bits && h.bits_b == 0, ErrorCode::parameter_mismatch,
            what + ": upload width differs from the plan");
  } else {
    require(h.bits_a == plan.body_bits && h.bits_b == plan.mask_bits, ErrorCode::parameter_mismatch,
            what + ": reply widths differ from the plan");
  }
  return plan;
}

std::vector<std::uint64_t> read_values(Reader& r, std::size_t count, int width, std::uint64_t limit) {
  const auto raw = r.take(packed_size_bytes(count, width));
  std::vector<std::uint64_t> v(count);
  unpack_bits(raw.data(), count, width, v.data());
  for (std::size_t i = 0; i < count; ++i)
    if (v[i] >= limit)
      throw Error(ErrorCode::coefficient_out_of_range,
                  std::string(r.what) + ": coefficient " + std::to_string(i) + " out of range");
  // Padding bits must be zero (canonical encoding).
  const std::size_t used_bits = count * static_cast<std::size_t>(width);
  if (used_bits % 8 != 0)
    require((raw.back() >> (used_bits % 8)) == 0, ErrorCode::bad_message, std::string(r.what) + ": padding not zero");
  return v;
}

void write_values(Writer& w, const std::vector<std::uint64_t>& v, int width) {
  const std::size_t start = w.out.size();
  w.zeros(packed_size_bytes(v.size(), width));
  pack_bits(v.data(), v.size(), width, w.out.data() + start);
}

}  // namespace fhellm::he::wire
