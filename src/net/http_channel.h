// The client transport: a hybrid::RemoteChannel that speaks the wire protocol
// (message.h) to an fhellm server over HTTP or HTTPS with keep-alive
// (http_client.h: one write per request, the reply read into one buffer).
//
// One channel holds one session and one connection; it is not thread-safe
// (use one channel per thread). Every exchange is bounded by the configured
// timeouts: a server that is down, goes away or stops answering gives
// Error(server_unavailable), never a hang. An error reply of the server is
// rethrown as Error with the server's code and its message prefixed "server: ".
//
// Faults it survives (docs/protocol.md, "Faults"):
//  - transient errors (connection refused or reset, a load balancer's 502,
//    503 or 504 without a frame, server_busy, rate_limited) are retried, at most `retry.attempts` times per exchange,
//    waiting retry.first_wait, doubling, or the server's Retry-After, and
//    never past retry.max_wait in all;
//  - a server that forgot the session (restarted, or expired it) answers
//    unknown_session: the channel opens a new session with the same keys,
//    checks that the server describes the same model, and sends the call
//    again (the same encrypted rows: same secret key, same results);
//  - a silent server: the exchange ends after io_timeout and is not retried;
//    close() then sends nothing (it would wait again), so a silent server
//    holds the client io_timeout once. Otherwise close() waits at most
//    close_timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hybrid/remote_service.h"
#include "net/message.h"

namespace fhellm::net {

struct RetryPolicy {
  int attempts = 6;                              // tries per exchange, the first included
  std::chrono::milliseconds first_wait{100};     // then doubled each time
  std::chrono::milliseconds max_wait{20000};     // all waits of one exchange together
};

struct ChannelConfig {
  std::string url;  // "http://HOST:PORT" or "https://HOST:PORT"
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{120000};  // read and write, per exchange
  std::chrono::milliseconds close_timeout{2000};  // the close_session exchange
  std::string ca_cert_path;                      // HTTPS: CA file to trust (default: the system's)
  bool verify_certificate = true;                // HTTPS only
  // Payload bytes of a reply (the frame header on top): a longer one is
  // refused, message_too_large, as it arrives (the connection is dropped).
  std::uint32_t max_reply_bytes = kMaxPayloadBytes;
  std::string api_key;                           // sent as "Authorization: Bearer KEY" when not empty
  RetryPolicy retry;
  bool reopen_session = true;                    // on unknown_session, open a new one and go on
  // The model description the client expects (a client artifact's): its
  // digest goes with open_session, and a server that serves the same answers
  // an empty one instead of sending it back (1.47 MB for GPT-2).
  std::shared_ptr<const Bytes> known_description;
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
  // Sessions this channel opened (1 + re-opens after the server forgot one).
  std::uint64_t sessions_opened() const { return sessions_opened_; }
  // Exchanges sent again after a transient error.
  std::uint64_t retries() const { return retries_; }

  // Sends raw bytes as one POST /v1/message and returns the raw reply body
  // (for tests of hostile messages), no retry. `http_status` receives the
  // status, `retry_after` the Retry-After seconds (0: none).
  // @throws Error(server_unavailable), Error(message_too_large) for a reply
  //         over max_reply_bytes (and the frame header).
  Bytes exchange(ByteView request, int* http_status = nullptr, int* retry_after = nullptr);

  // Sends a frame for this session with the next sequence number and returns
  // the decoded, validated reply payload of `expected` type. No retry.
  // @throws Error(server_unavailable | bad_message | the server's code).
  Bytes request(MessageType type, ByteView payload, MessageType expected, std::uint64_t* server_ns);

 private:
  // request() with the retry policy: `reopen` also recovers from unknown_session.
  Bytes request_with_retries(MessageType type, ByteView payload, MessageType expected, std::uint64_t* server_ns,
                             bool reopen);
  Bytes open_new_session();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t session_id_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t sessions_opened_ = 0, retries_ = 0;
  Bytes keys_;         // the session's public evaluation keys, to open again
  Bytes description_;  // what the first session answered
  hybrid::ChannelStats stats_;
};

// GET `path` on `url` (for /health and /metrics, with `api_key` when the
// server has keys); returns the body.
// @throws Error(server_unavailable) when no 200 answer arrives within the timeout.
std::string http_get(const std::string& url, const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                     const std::string& api_key = {});

}  // namespace fhellm::net
