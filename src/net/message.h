// Wire messages between an fhellm client and server.
//
// Every message, request or reply, is one frame (all integers little-endian,
// written field by field; never a memcpy of a C++ struct):
//
//   offset  size  field
//   0       4     magic            "FHNM" (0x46 0x48 0x4E 0x4D)
//   4       2     version          kProtocolVersion (1); any other is refused
//   6       2     type             MessageType
//   8       8     session id       0 in open_session; random 64-bit otherwise
//   16      8     sequence number  per session, strictly increasing from 1
//   24      4     payload length   <= kMaxPayloadBytes and == bytes left
//   28      4     flags            0 (reserved; nonzero is refused)
//   32      ...   payload          by type, below
//
// Payloads:
//   open_session        keys_len u32, keys[keys_len]          (client's public evaluation keys)
//                       [digest 32]  optional: SHA-256 of the model description the
//                                    client holds (a client artifact's)
//   open_session_reply  server_ns u64, desc_len u32, desc[desc_len]  (model description;
//                       desc_len 0 when the request's digest is the description's:
//                       the client's copy stands, 1.47 MB less for GPT-2)
//   linear_call         n_layers u16 (1..kMaxLayersPerCall), layer_id u32 x n_layers,
//                       blob_len u32, blob[blob_len]           (encrypted rows)
//   linear_call_reply   server_ns u64, blob_len u32, blob[blob_len]  (encrypted results)
//   close_session       (empty)
//   close_session_reply (empty)
//   error_reply         code u16 (fhellm::ErrorCode), msg_len u16 (<= kMaxErrorMessageBytes),
//                       msg[msg_len] (UTF-8, no secret)
//
// A reply carries the session id and sequence number of its request. Every
// length is checked against the bytes left and its hard maximum before any
// allocation; a frame with bytes after its payload, or a payload with bytes
// after its last field, is refused (trailing_bytes).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fhellm/error.h"
#include "common/bytes.h"

namespace fhellm::net {

inline constexpr std::uint32_t kMagic = 0x4D4E4846;  // "FHNM" read as little-endian u32
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderBytes = 32;
// Hard format limits; servers and clients may configure lower ones.
inline constexpr std::uint32_t kMaxPayloadBytes = 1u << 30;  // 1 GiB
inline constexpr std::uint16_t kMaxLayersPerCall = 64;
inline constexpr std::uint16_t kMaxErrorMessageBytes = 1024;

enum class MessageType : std::uint16_t {
  open_session = 1,
  open_session_reply = 2,
  linear_call = 3,
  linear_call_reply = 4,
  close_session = 5,
  close_session_reply = 6,
  error_reply = 15,
};

// "open_session", ...; "unknown" for a value outside the enum.
const char* message_type_name(MessageType type) noexcept;

struct MessageHeader {
  MessageType type = MessageType::error_reply;
  std::uint64_t session_id = 0;
  std::uint64_t sequence = 0;
};

// A parsed frame: its header and a view of its payload (into the frame bytes,
// which must outlive it).
struct Frame {
  MessageHeader header;
  ByteView payload;
};

// Serializes header + payload into one frame.
// @throws Error(message_too_large) when payload exceeds kMaxPayloadBytes.
Bytes encode_frame(const MessageHeader& header, ByteView payload);

// Parses and validates a frame: magic, version, known type, zero flags,
// payload length within `max_payload_bytes` (<= kMaxPayloadBytes) and equal
// to the bytes left.
// @throws Error(bad_magic | bad_version | bad_message | truncated |
//               message_too_large | trailing_bytes).
Frame decode_frame(ByteView bytes, std::uint32_t max_payload_bytes = kMaxPayloadBytes);

// ---- payloads -------------------------------------------------------------

// SHA-256 of a model description (open_session's optional digest).
using DescriptionDigest = std::array<std::uint8_t, 32>;
DescriptionDigest description_digest(ByteView description);

struct OpenSession {
  ByteView evaluation_keys;
  std::optional<DescriptionDigest> known_description;
};
struct OpenSessionReply {
  std::uint64_t server_ns = 0;
  ByteView description;
};
struct LinearCall {
  std::vector<std::uint32_t> layer_ids;
  ByteView rows;
};
struct LinearCallReply {
  std::uint64_t server_ns = 0;
  ByteView results;
};
struct ErrorReply {
  ErrorCode code = ErrorCode::internal_error;
  std::string message;
};

// `known`: the digest of the description the client holds (the server then
// answers an empty one when it serves the same).
Bytes encode_open_session(ByteView evaluation_keys, const std::optional<DescriptionDigest>& known = std::nullopt);
Bytes encode_open_session_reply(std::uint64_t server_ns, ByteView description);
// @throws Error(invalid_argument) when layer_ids is empty or longer than kMaxLayersPerCall.
Bytes encode_linear_call(std::span<const std::uint32_t> layer_ids, ByteView rows);
Bytes encode_linear_call_reply(std::uint64_t server_ns, ByteView results);
// The whole frame of a call's reply, written in one pass: the same bytes as
// encode_frame(header, encode_linear_call_reply(server_ns, results)) with one
// copy of the results, not two (a server's replies reach 160 KB per token).
// @throws Error(message_too_large) as encode_frame.
Bytes encode_linear_call_reply_frame(const MessageHeader& header, std::uint64_t server_ns, ByteView results);
// The message is cut to kMaxErrorMessageBytes.
Bytes encode_error_reply(ErrorCode code, std::string_view message);

// Decoders take the payload of a frame of the matching type; the returned
// views point into it. @throws Error(truncated | length_too_large |
// trailing_bytes | bad_message).
OpenSession decode_open_session(ByteView payload);
OpenSessionReply decode_open_session_reply(ByteView payload);
LinearCall decode_linear_call(ByteView payload);
LinearCallReply decode_linear_call_reply(ByteView payload);
ErrorReply decode_error_reply(ByteView payload);
// Checks that a close_session(/_reply) payload is empty. @throws Error(trailing_bytes).
void decode_empty(ByteView payload, MessageType type);

}  // namespace fhellm::net
