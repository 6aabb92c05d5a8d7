#include "he/linear_wire.h"

#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "he/bit_packing.h"
#include "he/linear.h"

namespace fhellm::he::wire {
namespace {

constexpr std::uint8_t kUploadMagic[4] = {'F', 'H', 'L', 'U'};
constexpr std::uint8_t kReplyMagic[4] = {'F', 'H', 'L', 'R'};

}  // namespace

void write_header(ByteWriter& w, const Header& h, const LinearPlan& plan) {
  w.bytes(ByteView(h.reply ? kReplyMagic : kUploadMagic, 4));
  w.u16(kLinearFormatVersion);
  w.u8(static_cast<std::uint8_t>(plan.precision));
  w.u8(plan.input_signed ? 1 : 0);
  w.u16(static_cast<std::uint16_t>(plan.param_id));
  w.u8(static_cast<std::uint8_t>(plan.privacy_bits));
  w.u8(0);  // reserved
  w.u32(plan.call_rows());
  w.u32(plan.geo.shape.in);
  w.u32(plan.geo.shape.out);
  w.u32(plan.geo.chunk_width);
  w.u32(plan.geo.rows_per_ct);
  w.u8(h.bits_a);
  w.u8(h.bits_b);
  w.append(6);
  w.u64(0);  // payload size, patched by finish()
}

void finish(Bytes& out) {
  const std::uint64_t payload = out.size() - kLinearHeaderBytes;
  for (int i = 0; i < 8; ++i) out[40 + i] = static_cast<std::uint8_t>(payload >> (8 * i));
}

void read_header_fields(ByteReader& r, bool reply, Header& h) {
  const std::string& what = r.what();
  const auto magic = r.take(4);
  require(std::memcmp(magic.data(), reply ? kReplyMagic : kUploadMagic, 4) == 0, ErrorCode::bad_magic,
          what + ": bad magic");
  const auto version = r.u16();
  require(version == kLinearFormatVersion, ErrorCode::bad_version,
          what + ": version " + std::to_string(version) + ", expected " + std::to_string(kLinearFormatVersion));
  const auto prec = r.u8();
  require(prec >= 1 && prec <= 5, ErrorCode::bad_message, what + ": bad precision " + std::to_string(prec));
  h.precision = static_cast<LinearPrecision>(prec);
  const auto sgn = r.u8();
  require(sgn <= 1, ErrorCode::bad_message, what + ": bad signedness flag");
  require(sgn == 0 || !linear_is_mask_precision(h.precision), ErrorCode::bad_message,
          what + ": mask rows are unsigned residues");
  h.input_signed = sgn == 1;
  h.param_id = param_id_from_u16(static_cast<std::uint16_t>(r.u16()));
  h.privacy_bits = r.u8();
  require(h.privacy_bits <= kLinearMaxPrivacyBits, ErrorCode::bad_message,
          what + ": weight privacy of " + std::to_string(h.privacy_bits) + " bits, at most " +
              std::to_string(kLinearMaxPrivacyBits));
  require(r.u8() == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  h.shape.rows = static_cast<std::uint32_t>(r.u32());
  h.shape.in = static_cast<std::uint32_t>(r.u32());
  h.shape.out = static_cast<std::uint32_t>(r.u32());
  require(h.shape.rows >= 1 && h.shape.rows <= kLinearMaxRows && h.shape.in >= 1 &&
              h.shape.in <= linear_max_in(h.precision) &&
              h.shape.out >= 1 && h.shape.out <= kLinearMaxOut,
          ErrorCode::shape_mismatch,
          what + ": shape T=" + std::to_string(h.shape.rows) + " k=" + std::to_string(h.shape.in) +
              " n=" + std::to_string(h.shape.out) + " out of range");
  h.chunk_width = static_cast<std::uint32_t>(r.u32());
  h.rows_per_ct = static_cast<std::uint32_t>(r.u32());
  h.bits_a = static_cast<std::uint8_t>(r.u8());
  h.bits_b = static_cast<std::uint8_t>(r.u8());
  for (int i = 0; i < 6; ++i) require(r.u8() == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  const std::uint64_t payload = r.u64();
  require(payload <= kMaxLinearMessage, ErrorCode::length_too_large, what + ": payload too large");
  require(payload <= r.remaining(), ErrorCode::truncated,
          what + ": payload of " + std::to_string(payload) + " bytes, " + std::to_string(r.remaining()) + " present");
  require(payload == r.remaining(), ErrorCode::trailing_bytes, what + ": trailing bytes");
}

LinearPlan read_header(ByteReader& r, bool reply, Header& h) {
  read_header_fields(r, reply, h);
  const std::string& what = r.what();
  LinearPlan plan = plan_linear(h.shape, h.precision, h.input_signed, h.privacy_bits);
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

std::vector<std::uint64_t> read_values(ByteReader& r, std::size_t count, int width, std::uint64_t limit) {
  const auto raw = r.take(packed_size_bytes(count, width));
  std::vector<std::uint64_t> v(count);
  unpack_bits(raw.data(), count, width, v.data());
  for (std::size_t i = 0; i < count; ++i)
    if (v[i] >= limit)
      throw Error(ErrorCode::coefficient_out_of_range,
                  r.what() + ": coefficient " + std::to_string(i) + " out of range");
  // Padding bits must be zero (canonical encoding).
  const std::size_t used_bits = count * static_cast<std::size_t>(width);
  if (used_bits % 8 != 0)
    require((raw.back() >> (used_bits % 8)) == 0, ErrorCode::bad_message, r.what() + ": padding not zero");
  return v;
}

void write_values(ByteWriter& w, const std::vector<std::uint64_t>& v, int width) {
  pack_bits(v.data(), v.size(), width, w.append(packed_size_bytes(v.size(), width)).data());
}

}  // namespace fhellm::he::wire
