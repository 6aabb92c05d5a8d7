// The client transport: a hybrid::RemoteChannel that speaks the wire protocol
// (message.h) to an fhellm server over HTTP or HTTPS with keep-alive.
//
// One channel holds one session and one connection; it is not thread-safe
// (use one channel per thread). Every exchange is bounded by the configured
// timeouts: a server that is down, goes away or stops answering gives
// Error(server_unavailable), never a hang. An error reply of the server is
// rethrown as Error with the server's code and its message prefixed "server: ".
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hybrid/remote_service.h"
#include "net/message.h"

namespace fhellm::net {

struct ChannelConfig {
  std::string url;  // "http://HOST:PORT" or "https://HOST:PORT"
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{120000};  // read and write, per exchange
  std::string ca_cert_path;                      // HTTPS: CA file to trust (default: the system's)
  bool verify_certificate = true;                // HTTPS only
  std::uint32_t max_reply_bytes = kMaxPayloadBytes;
};

class HttpChannel final : public hybrid::RemoteChannel {
 public:
  // @throws Error(invalid_argument) for a URL that is not http(s)://HOST:PORT.
  explicit HttpChannel(ChannelConfig config);
  ~HttpChannel() override;

  Bytes open_session(ByteView evaluation_keys) override;
  Bytes call(std::span<const std::uint32_t> layer_ids, ByteView payload) override;
  void close() noexcept override;
  hybrid::ChannelStats stats() const override;

  std::uint64_t session_id() const { return session_id_; }

  // Sends raw bytes as one POST /v1/message and returns the raw reply body
  // (for tests of hostile messages). `http_status` receives the status.
  // @throws Error(server_unavailable).
  Bytes exchange(ByteView request, int* http_status = nullptr);

  // Sends a frame for this session with the next sequence number and returns
  // the decoded, validated reply payload of `expected` type.
  // @throws Error(server_unavailable | bad_message | the server's code).
  Bytes request(MessageType type, ByteView payload, MessageType expected, std::uint64_t* server_ns);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t session_id_ = 0;
  std::uint64_t next_sequence_ = 1;
  hybrid::ChannelStats stats_;
};

// GET `path` on `url` (for /health and /metrics); returns the body.
// @throws Error(server_unavailable) when no 200 answer arrives within the timeout.
std::string http_get(const std::string& url, const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace fhellm::net
