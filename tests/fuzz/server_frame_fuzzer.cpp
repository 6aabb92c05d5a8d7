// The server's whole frame handler (net::Server::handle_frame: the session
// state machine, sequence numbers, budgets) with the arithmetic test
// service. The input is a series of frames, each prefixed by a u16 length.
#include "net/server.h"
#include "fuzz/fuzz_util.h"
#include "net/test_service.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static testing::ArithmeticService service;
  net::ServerConfig config;
  config.max_sessions = 4;
  config.max_memory_bytes = 1 << 16;
  config.max_request_bytes = 1 << 16;
  net::Server server(service, config);  // not started: frames go straight to the handler
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::size_t n = std::min<std::size_t>(size - at - 2, data[at] | (data[at + 1] << 8));
    at += 2;
    int status = 0;
    const Bytes reply = server.handle_frame({data + at, n}, &status);
    // Every reply is a frame the client can decode.
    const net::Frame f = net::decode_frame(reply);
    if (f.header.type == net::MessageType::error_reply) net::decode_error_reply(f.payload);
    if ((status == 200) != (f.header.type != net::MessageType::error_reply)) std::abort();
    at += n;
  }
  return 0;
}
