#include "net/message.h"

#include <string>

#include <openssl/evp.h>

#include "common/bytes.h"

namespace fhellm::net {


const char* message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::open_session: return "open_session";
    case MessageType::open_session_reply: return "open_session_reply";
    case MessageType::linear_call: return "linear_call";
    case MessageType::linear_call_reply: return "linear_call_reply";
    case MessageType::close_session: return "close_session";
    case MessageType::close_session_reply: return "close_session_reply";
    case MessageType::error_reply: return "error_reply";
  }
  return "unknown";
}

namespace {

bool is_known_type(std::uint16_t t) {
  switch (static_cast<MessageType>(t)) {
    case MessageType::open_session:
    case MessageType::open_session_reply:
    case MessageType::linear_call:
    case MessageType::linear_call_reply:
    case MessageType::close_session:
    case MessageType::close_session_reply:
    case MessageType::error_reply:
      return true;
  }
  return false;
}

bool is_known_error_code(std::uint16_t code) {
  const auto name = error_code_name(static_cast<ErrorCode>(code));
  return name != "unknown_error";
}

// The frame header of a payload of `payload_bytes`, into `out` reserved for the whole frame.
void write_frame_header(Bytes& out, const MessageHeader& header, std::size_t payload_bytes) {
  require(payload_bytes <= kMaxPayloadBytes, ErrorCode::message_too_large,
          std::string(message_type_name(header.type)) + ": payload of " + std::to_string(payload_bytes) +
              " bytes exceeds the protocol limit of " + std::to_string(kMaxPayloadBytes));
  out.reserve(kHeaderBytes + payload_bytes);
  ByteWriter w(out);
  w.u32(kMagic);
  w.u16(kProtocolVersion);
  w.u16(static_cast<std::uint16_t>(header.type));
  w.u64(header.session_id);
  w.u64(header.sequence);
  w.u32(static_cast<std::uint32_t>(payload_bytes));
  w.u32(0);  // flags
}

}  // namespace

Bytes encode_frame(const MessageHeader& header, ByteView payload) {
  Bytes out;
  write_frame_header(out, header, payload.size());
  ByteWriter(out).bytes(payload);
  return out;
}

Bytes encode_linear_call_reply_frame(const MessageHeader& header, std::uint64_t server_ns, ByteView results) {
  Bytes out;
  write_frame_header(out, header, 8 + 4 + results.size());
  ByteWriter w(out);
  w.u64(server_ns);
  w.blob(results);
  return out;
}

Frame decode_frame(ByteView bytes, std::uint32_t max_payload_bytes) {
  if (max_payload_bytes > kMaxPayloadBytes) max_payload_bytes = kMaxPayloadBytes;
  ByteReader r(bytes, "message");
  require(bytes.size() >= kHeaderBytes, ErrorCode::truncated,
          "message: " + std::to_string(bytes.size()) + " bytes, a header needs " + std::to_string(kHeaderBytes));
  const std::uint32_t magic = r.u32();
  require(magic == kMagic, ErrorCode::bad_magic, "message: not an fhellm frame (bad magic)");
  const std::uint16_t version = r.u16();
  require(version == kProtocolVersion, ErrorCode::bad_version,
          "message: protocol version " + std::to_string(version) + ", this build speaks " +
              std::to_string(kProtocolVersion));
  const std::uint16_t type = r.u16();
  require(is_known_type(type), ErrorCode::bad_message, "message: unknown type " + std::to_string(type));
  Frame frame;
  frame.header.type = static_cast<MessageType>(type);
  frame.header.session_id = r.u64();
  frame.header.sequence = r.u64();
  const std::uint32_t length = r.u32();
  const std::uint32_t flags = r.u32();
  require(flags == 0, ErrorCode::bad_message, "message: reserved flags are " + std::to_string(flags) + ", not 0");
  require(length <= max_payload_bytes, ErrorCode::message_too_large,
          std::string(message_type_name(frame.header.type)) + ": payload of " + std::to_string(length) +
              " bytes exceeds the limit of " + std::to_string(max_payload_bytes));
  require(length <= r.remaining(), ErrorCode::truncated,
          std::string(message_type_name(frame.header.type)) + ": payload declares " + std::to_string(length) +
              " bytes, " + std::to_string(r.remaining()) + " received");
  frame.payload = r.take(length, "payload");
  r.expect_end();
  return frame;
}

DescriptionDigest description_digest(ByteView description) {
  DescriptionDigest out{};
  unsigned int len = 0;
  require(EVP_Digest(description.data(), description.size(), out.data(), &len, EVP_sha256(), nullptr) == 1 &&
              len == out.size(),
          ErrorCode::internal_error, "SHA-256 failed");
  return out;
}

Bytes encode_open_session(ByteView evaluation_keys, const std::optional<DescriptionDigest>& known) {
  Bytes out;
  out.reserve(4 + evaluation_keys.size() + 32);  // one allocation of the keys' size, not a doubling
  ByteWriter w(out);
  w.blob(evaluation_keys);
  if (known) w.bytes(ByteView(known->data(), known->size()));
  return out;
}

Bytes encode_open_session_reply(std::uint64_t server_ns, ByteView description) {
  Bytes out;
  ByteWriter w(out);
  w.u64(server_ns);
  w.blob(description);
  return out;
}

Bytes encode_linear_call(std::span<const std::uint32_t> layer_ids, ByteView rows) {
  require(!layer_ids.empty() && layer_ids.size() <= kMaxLayersPerCall, ErrorCode::invalid_argument,
          "linear_call: " + std::to_string(layer_ids.size()) + " layer ids, need 1.." +
              std::to_string(kMaxLayersPerCall));
  Bytes out;
  out.reserve(2 + 4 * layer_ids.size() + 4 + rows.size());
  ByteWriter w(out);
  w.u16(static_cast<std::uint16_t>(layer_ids.size()));
  for (std::uint32_t id : layer_ids) w.u32(id);
  w.blob(rows);
  return out;
}

Bytes encode_linear_call_reply(std::uint64_t server_ns, ByteView results) {
  Bytes out;
  out.reserve(12 + results.size());
  ByteWriter w(out);
  w.u64(server_ns);
  w.blob(results);
  return out;
}

Bytes encode_error_reply(ErrorCode code, std::string_view message) {
  if (message.size() > kMaxErrorMessageBytes) message = message.substr(0, kMaxErrorMessageBytes);
  Bytes out;
  ByteWriter w(out);
  w.u16(static_cast<std::uint16_t>(code));
  w.u16(static_cast<std::uint16_t>(message.size()));
  w.bytes({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
  return out;
}

OpenSession decode_open_session(ByteView payload) {
  ByteReader r(payload, "open_session payload");
  OpenSession m;
  m.evaluation_keys = r.blob(kMaxPayloadBytes, "evaluation_keys");
  if (r.remaining() == std::tuple_size_v<DescriptionDigest>) {
    m.known_description.emplace();
    r.copy_to(*m.known_description, "description digest");
  }
  r.expect_end();
  return m;
}

OpenSessionReply decode_open_session_reply(ByteView payload) {
  ByteReader r(payload, "open_session_reply payload");
  OpenSessionReply m;
  m.server_ns = r.u64();
  m.description = r.blob(kMaxPayloadBytes, "description");
  r.expect_end();
  return m;
}

LinearCall decode_linear_call(ByteView payload) {
  ByteReader r(payload, "linear_call payload");
  LinearCall m;
  const std::uint16_t n_layers = r.u16();
  require(n_layers >= 1 && n_layers <= kMaxLayersPerCall, ErrorCode::bad_message,
          "linear_call payload: " + std::to_string(n_layers) + " layer ids, need 1.." +
              std::to_string(kMaxLayersPerCall));
  require(r.remaining() >= 4u * n_layers, ErrorCode::truncated,
          "linear_call payload: " + std::to_string(n_layers) + " layer ids need " + std::to_string(4 * n_layers) +
              " bytes, " + std::to_string(r.remaining()) + " left");
  m.layer_ids.reserve(n_layers);
  for (std::uint16_t i = 0; i < n_layers; ++i) m.layer_ids.push_back(r.u32());
  m.rows = r.blob(kMaxPayloadBytes, "rows");
  r.expect_end();
  return m;
}

LinearCallReply decode_linear_call_reply(ByteView payload) {
  ByteReader r(payload, "linear_call_reply payload");
  LinearCallReply m;
  m.server_ns = r.u64();
  m.results = r.blob(kMaxPayloadBytes, "results");
  r.expect_end();
  return m;
}

ErrorReply decode_error_reply(ByteView payload) {
  ByteReader r(payload, "error_reply payload");
  ErrorReply m;
  const std::uint16_t code = r.u16();
  const std::uint16_t length = r.u16();
  require(length <= kMaxErrorMessageBytes, ErrorCode::length_too_large,
          "error_reply payload: message of " + std::to_string(length) + " bytes, limit " +
              std::to_string(kMaxErrorMessageBytes));
  auto text = r.take(length, "message");
  r.expect_end();
  // A code this build does not know (a newer server) is reported as remote_error.
  m.code = is_known_error_code(code) ? static_cast<ErrorCode>(code) : ErrorCode::remote_error;
  m.message.assign(text.begin(), text.end());
  return m;
}

void decode_empty(ByteView payload, MessageType type) {
  require(payload.empty(), ErrorCode::trailing_bytes,
          std::string(message_type_name(type)) + ": " + std::to_string(payload.size()) +
              " payload bytes, expected none");
}

}  // namespace fhellm::net
