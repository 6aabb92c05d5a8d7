#include "net/message.h"

#include <gtest/gtest.h>

#include <random>

namespace fhellm::net {
namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no fhellm::Error thrown";
  return ErrorCode::internal_error;
}

Bytes sample_linear_call_frame() {
  const std::uint32_t ids[] = {3, 4, 5};
  const Bytes rows = {1, 2, 3, 4, 5, 6, 7};
  return encode_frame({MessageType::linear_call, 0x1122334455667788ull, 42}, encode_linear_call(ids, rows));
}

TEST(Message, FrameRoundTripKeepsHeaderAndPayload) {
  const Bytes frame = sample_linear_call_frame();
  EXPECT_EQ(frame[0], 'F');
  EXPECT_EQ(frame[3], 'M');
  const Frame f = decode_frame(frame);
  EXPECT_EQ(f.header.type, MessageType::linear_call);
  EXPECT_EQ(f.header.session_id, 0x1122334455667788ull);
  EXPECT_EQ(f.header.sequence, 42u);
  const LinearCall call = decode_linear_call(f.payload);
  EXPECT_EQ(call.layer_ids, (std::vector<std::uint32_t>{3, 4, 5}));
  EXPECT_EQ(Bytes(call.rows.begin(), call.rows.end()), (Bytes{1, 2, 3, 4, 5, 6, 7}));
}

TEST(Message, EveryPayloadRoundTrips) {
  const Bytes blob = {9, 8, 7};
  const Bytes os = encode_open_session(blob);
  const OpenSession r0 = decode_open_session(os);
  EXPECT_EQ(Bytes(r0.evaluation_keys.begin(), r0.evaluation_keys.end()), blob);
  EXPECT_FALSE(r0.known_description.has_value());
  const DescriptionDigest digest = description_digest(blob);
  const Bytes with_digest = encode_open_session(blob, digest);
  const OpenSession rd = decode_open_session(with_digest);
  EXPECT_EQ(Bytes(rd.evaluation_keys.begin(), rd.evaluation_keys.end()), blob);
  ASSERT_TRUE(rd.known_description.has_value());
  EXPECT_EQ(*rd.known_description, digest);
  EXPECT_NE(description_digest(Bytes{9, 8, 6}), digest);
  // A digest of another length is trailing bytes, not a digest.
  Bytes short_digest = encode_open_session(blob, digest);
  short_digest.pop_back();
  EXPECT_EQ(code_of([&] { decode_open_session(short_digest); }), ErrorCode::trailing_bytes);
  const Bytes osr = encode_open_session_reply(123, blob);
  const OpenSessionReply r1 = decode_open_session_reply(osr);
  EXPECT_EQ(r1.server_ns, 123u);
  EXPECT_EQ(Bytes(r1.description.begin(), r1.description.end()), blob);
  const Bytes lcr = encode_linear_call_reply(456, blob);
  const LinearCallReply r2 = decode_linear_call_reply(lcr);
  EXPECT_EQ(r2.server_ns, 456u);
  EXPECT_EQ(Bytes(r2.results.begin(), r2.results.end()), blob);
  const ErrorReply e = decode_error_reply(encode_error_reply(ErrorCode::replayed_message, "seq 3 <= 5"));
  EXPECT_EQ(e.code, ErrorCode::replayed_message);
  EXPECT_EQ(e.message, "seq 3 <= 5");
  EXPECT_NO_THROW(decode_empty({}, MessageType::close_session));
}

TEST(Message, AReplyFrameWrittenInOnePassIsTheSameBytes) {
  Bytes results(70000);
  for (std::size_t i = 0; i < results.size(); ++i) results[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const MessageHeader header{MessageType::linear_call_reply, 0xA1B2C3D4E5F60718ull, 99};
  for (const Bytes& r : {Bytes{}, Bytes{5}, results}) {
    EXPECT_EQ(encode_linear_call_reply_frame(header, 1234567, r), encode_frame(header, encode_linear_call_reply(1234567, r)));
  }
  const Bytes frame = encode_linear_call_reply_frame(header, 1234567, results);
  const LinearCallReply reply = decode_linear_call_reply(decode_frame(frame).payload);
  EXPECT_EQ(reply.server_ns, 1234567u);
  EXPECT_EQ(Bytes(reply.results.begin(), reply.results.end()), results);
}

TEST(Message, ErrorMessagesAreCappedAndUnknownCodesBecomeRemoteError) {
  const ErrorReply long_one = decode_error_reply(encode_error_reply(ErrorCode::bad_message, std::string(5000, 'x')));
  EXPECT_EQ(long_one.message.size(), kMaxErrorMessageBytes);
  Bytes unknown = encode_error_reply(ErrorCode::bad_message, "x");
  unknown[0] = 0x39;  // code 0x..39 = 57: no such code
  unknown[1] = 0x00;
  EXPECT_EQ(decode_error_reply(unknown).code, ErrorCode::remote_error);
}

TEST(Message, HeaderFieldsAreChecked) {
  const Bytes good = sample_linear_call_frame();
  Bytes bad = good;
  bad[0] = 'X';
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::bad_magic);
  bad = good;
  bad[4] = 2;  // version 2
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::bad_version);
  bad = good;
  bad[6] = 77;  // type 77
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::bad_message);
  bad = good;
  bad[28] = 1;  // flags
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::bad_message);
  bad = good;
  bad.push_back(0);
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::trailing_bytes);
  bad = good;
  bad[24] = 0xff;  // payload length ~ 4 GiB: over the hard limit, refused before anything else
  bad[25] = 0xff;
  bad[26] = 0xff;
  bad[27] = 0xff;
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::message_too_large);
  EXPECT_EQ(code_of([&] { decode_frame(good, 8); }), ErrorCode::message_too_large);
  bad = good;
  bad[24] += 1;  // one byte more than sent
  EXPECT_EQ(code_of([&] { decode_frame(bad); }), ErrorCode::truncated);
  EXPECT_EQ(code_of([&] { decode_frame(ByteView(good.data(), 10)); }), ErrorCode::truncated);
}

TEST(Message, PayloadFieldsAreChecked) {
  const std::uint32_t ids[] = {1};
  Bytes call = encode_linear_call(ids, Bytes{1, 2});
  Bytes bad = call;
  bad[0] = 0;  // zero layers
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::bad_message);
  bad = call;
  bad[0] = 200;  // 200 layers > kMaxLayersPerCall
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::bad_message);
  bad = call;
  bad[0] = 60;  // 60 layers, only one sent
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::truncated);
  bad = call;
  bad[6] = 0xff;  // rows length far beyond the hard limit
  bad[7] = 0xff;
  bad[8] = 0xff;
  bad[9] = 0xff;
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::length_too_large);
  bad = call;
  bad[6] = 3;  // rows length 3, 2 sent
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::truncated);
  bad = call;
  bad.push_back(0);
  EXPECT_EQ(code_of([&] { decode_linear_call(bad); }), ErrorCode::trailing_bytes);
  EXPECT_EQ(code_of([&] { decode_empty(Bytes{1}, MessageType::close_session); }), ErrorCode::trailing_bytes);
  EXPECT_EQ(code_of([&] { encode_linear_call({}, Bytes{}); }), ErrorCode::invalid_argument);
  Bytes err = encode_error_reply(ErrorCode::bad_message, "abc");
  err[2] = 0xff;  // message length 0x..ff > what is left and > the cap
  err[3] = 0xff;
  EXPECT_EQ(code_of([&] { decode_error_reply(err); }), ErrorCode::length_too_large);
}

// Every prefix and every single-byte corruption of a valid frame either
// parses or throws fhellm::Error; nothing else (no crash, no other exception).
TEST(Message, TruncationsAndCorruptionsNeverEscapeAsAnythingButError) {
  const Bytes good = sample_linear_call_frame();
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(
        {
          const Frame f = decode_frame(ByteView(good.data(), n));
          decode_linear_call(f.payload);
        },
        Error)
        << "prefix of " << n << " bytes";
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes bad = good;
    bad[rng() % bad.size()] = static_cast<std::uint8_t>(rng());
    try {
      const Frame f = decode_frame(bad);
      if (f.header.type == MessageType::linear_call) decode_linear_call(f.payload);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace fhellm::net
