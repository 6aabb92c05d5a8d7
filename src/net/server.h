// The fhellm server: HTTP (keep-alive; HTTPS when given a certificate) in
// front of a hybrid::RemoteService.
//
// Endpoints:
//   POST /v1/message   one binary frame (message.h) in, one frame out
//   GET  /health       {"status":"ok","sessions":N}
//   GET  /metrics      Prometheus text: sessions, requests, errors, bytes, latency
//
// Sessions: open_session parses the client's evaluation keys into a
// RemoteSession and answers a random 64-bit session id; each later message
// names it and carries a sequence number strictly greater than the last one
// the session accepted (a replay or reordering gets replayed_message). Calls
// on one session run one at a time; different sessions run in parallel on the
// connection thread pool, at most `max_parallel_calls` evaluating at once.
// Idle sessions expire after `idle_timeout`. Every handler runs inside one
// wrapper that turns any error into an error_reply (message.h) with an HTTP
// status of its kind, so one client's bad message never stops the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hybrid/remote_service.h"
#include "net/message.h"

namespace fhellm::net {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8600;                                     // 0: any free port (see Server::port())
  int n_connection_threads = 32;                       // bounds concurrent keep-alive connections
  int max_parallel_calls = 0;                          // 0: hardware threads
  std::size_t max_sessions = 64;                       // open sessions at once
  std::uint64_t max_session_bytes = 1ull << 30;        // server memory one session may hold
  std::uint32_t max_request_bytes = 256u << 20;        // one HTTP body (frame)
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // An idle keep-alive connection holds a connection thread this long, and
  // stop() waits for it: keep it short (clients reconnect cheaply).
  std::chrono::seconds keep_alive_timeout{5};
  std::string tls_cert_path;                           // both set: HTTPS
  std::string tls_key_path;
};

// Counters since the server started.
struct ServerMetrics {
  std::uint64_t sessions_active = 0;
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_closed = 0;
  std::uint64_t sessions_expired = 0;
  std::uint64_t requests = 0;   // frames handled (any type)
  std::uint64_t linear_calls = 0;
  std::uint64_t errors = 0;     // error replies sent
  std::uint64_t bytes_in = 0;   // request frame bytes
  std::uint64_t bytes_out = 0;  // reply frame bytes
  double latency_seconds_sum = 0;  // handling time of every frame
  double latency_seconds_max = 0;
  double service_seconds_sum = 0;  // time inside RemoteService::call
};

class Server {
 public:
  // `service` must outlive the server.
  Server(hybrid::RemoteService& service, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a background thread.
  // @throws Error(io_error) when the address cannot be bound or the TLS files
  //         cannot be loaded.
  void start();
  // Port actually bound (differs from config.port when that was 0).
  int port() const;
  // Blocks until stop() is called (from another thread or a signal handler's
  // helper thread).
  void wait();
  // Stops listening, ends the expiry thread, drops every session. Idempotent.
  void stop();

  ServerMetrics metrics() const;
  std::size_t session_count() const;

  // Handles one frame exactly as POST /v1/message does and returns the reply
  // frame; never throws. `http_status` receives the status the HTTP layer sends.
  Bytes handle_frame(ByteView request, int* http_status = nullptr);

  // Prometheus text of metrics().
  std::string metrics_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HTTP status an error reply of this code is sent with.
int http_status_for(ErrorCode code) noexcept;

}  // namespace fhellm::net
