// Wire frames and every payload decoder (net/message.h), and the model
// description a server answers (hybrid/remote_model.h): what a client or a
// server reads from the network.
#include "hybrid/remote_model.h"
#include "net/message.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView bytes(data, size);
  fuzz::expect_only_fhellm_errors([&] {
    const net::Frame frame = net::decode_frame(bytes, 1u << 20);
    switch (frame.header.type) {
      case net::MessageType::open_session: net::decode_open_session(frame.payload); break;
      case net::MessageType::open_session_reply:
        hybrid::RemoteModelDescription::decode(net::decode_open_session_reply(frame.payload).description);
        break;
      case net::MessageType::linear_call: net::decode_linear_call(frame.payload); break;
      case net::MessageType::linear_call_reply: net::decode_linear_call_reply(frame.payload); break;
      case net::MessageType::error_reply: net::decode_error_reply(frame.payload); break;
      default: net::decode_empty(frame.payload, frame.header.type); break;
    }
  });
  // The payload decoders and the description alone, on the raw bytes.
  fuzz::expect_only_fhellm_errors([&] { net::decode_linear_call(bytes); });
  fuzz::expect_only_fhellm_errors([&] { net::decode_error_reply(bytes); });
  fuzz::expect_only_fhellm_errors([&] { hybrid::RemoteModelDescription::decode(bytes); });
  return 0;
}
