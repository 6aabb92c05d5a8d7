#include "he/lookup_wire.h"

#include <cmath>
#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "he/linear_wire.h"
#include "he/lookup.h"

namespace fhellm::he::wire {
namespace {

constexpr std::uint8_t kQueryMagic[4] = {'F', 'H', 'E', 'Q'};
constexpr std::uint8_t kAnswerMagic[4] = {'F', 'H', 'E', 'A'};

}  // namespace

int lookup_select_value_bits(const LookupPlan& plan) noexcept {
  if (plan.select_bits == 0) return 0;
  double bits = 0;
  for (std::uint64_t q : parameter_set(plan.linear.param_id).coeff_modulus) bits += std::log2(static_cast<double>(q));
  return static_cast<int>(std::ceil(bits));
}

void write_lookup_header(ByteWriter& w, const LookupPlan& plan, bool reply) {
  w.bytes(ByteView(reply ? kAnswerMagic : kQueryMagic, 4));
  w.u16(kLookupFormatVersion);
  w.u8(static_cast<std::uint8_t>(plan.value_bits));
  w.u8(0);
  w.u16(static_cast<std::uint16_t>(plan.linear.param_id));
  w.u16(0);
  w.u32(plan.shape.rows);
  w.u32(plan.shape.table_rows);
  w.u32(plan.shape.width);
  w.u32(plan.linear.geo.chunk_width);
  w.u8(static_cast<std::uint8_t>(plan.linear.geo.input_levels));
  w.u8(static_cast<std::uint8_t>(reply ? plan.linear.body_bits : plan.linear.upload_bits));
  w.u8(static_cast<std::uint8_t>(reply ? plan.linear.mask_bits : lookup_select_value_bits(plan)));
  w.u8(static_cast<std::uint8_t>(plan.select_bits));
  w.u8(static_cast<std::uint8_t>(plan.select_sparse_levels));
  w.append(7);
  w.u64(0);  // payload size, patched by finish()
}

LookupHeader read_lookup_header_fields(ByteReader& r, bool reply) {
  const std::string& what = r.what();
  const auto magic = r.take(4);
  require(std::memcmp(magic.data(), reply ? kAnswerMagic : kQueryMagic, 4) == 0, ErrorCode::bad_magic,
          what + ": bad magic");
  const auto version = r.u16();
  require(version == kLookupFormatVersion, ErrorCode::bad_version,
          what + ": version " + std::to_string(version) + ", expected " + std::to_string(kLookupFormatVersion));
  LookupHeader h;
  h.value_bits = r.u8();
  require(h.value_bits >= 2 && h.value_bits <= 8, ErrorCode::bad_message,
          what + ": table values of " + std::to_string(h.value_bits) + " bits");
  require(r.u8() == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  h.param_id = param_id_from_u16(static_cast<std::uint16_t>(r.u16()));
  require(r.u16() == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  LookupShape& shape = h.shape;
  shape.rows = r.u32();
  shape.table_rows = r.u32();
  shape.width = r.u32();
  require(shape.rows >= 1 && shape.rows <= kLookupMaxRows && shape.table_rows >= 1 &&
              shape.table_rows <= kLookupMaxTableRows && shape.width >= 1 && shape.width <= kLookupMaxWidth,
          ErrorCode::shape_mismatch,
          what + ": shape T=" + std::to_string(shape.rows) + " V=" + std::to_string(shape.table_rows) +
              " width=" + std::to_string(shape.width) + " out of range");
  h.chunk_width = r.u32();
  h.input_levels = r.u8();
  h.bits_a = r.u8();
  h.bits_b = r.u8();
  h.select_bits = r.u8();
  h.select_sparse_levels = r.u8();
  for (int i = 0; i < 7; ++i) require(r.u8() == 0, ErrorCode::bad_message, what + ": reserved field not zero");
  const std::uint64_t payload = r.u64();
  require(payload <= kMaxLinearMessage, ErrorCode::length_too_large, what + ": payload too large");
  require(payload <= r.remaining(), ErrorCode::truncated,
          what + ": payload of " + std::to_string(payload) + " bytes, " + std::to_string(r.remaining()) + " present");
  require(payload == r.remaining(), ErrorCode::trailing_bytes, what + ": trailing bytes");
  return h;
}

LookupPlan read_lookup_header(ByteReader& r, bool reply) {
  const std::string& what = r.what();
  const LookupHeader h = read_lookup_header_fields(r, reply);
  LookupPlan plan = plan_lookup(h.shape, h.value_bits);
  require(plan.linear.param_id == h.param_id, ErrorCode::parameter_mismatch,
          what + ": parameter set " + std::to_string(static_cast<int>(h.param_id)) + " but the lookup uses " +
              std::string(parameter_set(plan.linear.param_id).name));
  require(h.chunk_width == plan.linear.geo.chunk_width && h.input_levels == plan.linear.geo.input_levels &&
              h.select_bits == plan.select_bits && h.select_sparse_levels == plan.select_sparse_levels,
          ErrorCode::parameter_mismatch, what + ": layout differs from the plan");
  const int a = reply ? plan.linear.body_bits : plan.linear.upload_bits;
  const int b = reply ? plan.linear.mask_bits : lookup_select_value_bits(plan);
  require(h.bits_a == a && h.bits_b == b, ErrorCode::parameter_mismatch, what + ": widths differ from the plan");
  return plan;
}

}  // namespace fhellm::he::wire
