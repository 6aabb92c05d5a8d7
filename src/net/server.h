// The fhellm server: the wire protocol (message.h) over an HttpServer
// (http_server.h: keep-alive, HTTPS with a certificate), in front of a
// hybrid::RemoteService.
//
// Endpoints:
//   POST /v1/message   one binary frame in, one frame out
//   GET  /health       {"status":"ok","sessions":N}
//   GET  /metrics      Prometheus text (server_metrics.cpp); needs a key when keys are set
//
// Who may do what (docs/threat-model.md):
//  - With API keys (config.api_keys), a request without a valid
//    `Authorization: Bearer KEY` gets `unauthorized` before its body is read.
//    Without keys every client is "anonymous", and start() refuses any
//    address but loopback. A non-loopback address also needs TLS, or
//    config.insecure.
//  - A session belongs to the key that opened it: another key naming its id
//    gets unknown_session, as for an id never opened.
//  - Per key (its file entry, else config.key_defaults): sessions open at
//    once, requests per second, rows per hour (encrypted or online masked
//    rows: RemoteService::call_cost; rate_limited, with
//    a Retry-After, when spent).
//
// Bounded before work, in this order per request: the head (auth, request
// rate, Content-Length against max_request_bytes and the server's memory
// budget, which reserves the body's bytes) before the body is read; the frame
// header; for open_session, the session's memory from a cheap look at the
// keys (RemoteService::session_memory_bytes) against max_session_bytes and
// the budget (reserved for the session's life) before the keys are parsed;
// for linear_call, the header against the layer and the key's row budget
// (RemoteService::call_cost) before the product is planned.
//
// Sequence numbers: each message of a session carries a number above the
// last one the session accepted; a call or open carries one below 2^64 - 1
// (so close_session, which may carry 2^64 - 1, always fits). A refused or
// failed message does not consume its number (in memory; a shared store
// claims the number before the call is evaluated, so there a call that fails
// after its claim has spent it: clients send each try with a new number). Calls of one session run one
// at a time (a second one at once gets server_busy). Idle sessions expire
// after idle_timeout (in Redis, with a shared store: the store's own
// expiry). Sessions are kept by a SessionStore (session_store.h): this
// process's memory, or Redis for replicas. Freed session memory goes back to the system
// (malloc_trim) when a session ends or a large request is done.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hybrid/remote_service.h"
#include "net/api_keys.h"
#include "net/message.h"

namespace fhellm::net {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8600;                 // 0: any free port (see Server::port())
  int max_parallel_calls = 0;      // worker threads evaluating requests; 0: hardware threads
  std::size_t max_sessions = 64;   // open sessions at once, all keys together
  std::uint64_t max_session_bytes = 1ull << 30;  // counted memory of one session
  // Sessions plus request bodies in flight; 0: half the machine's memory.
  std::uint64_t max_memory_bytes = 0;
  std::uint32_t max_request_bytes = 256u << 20;  // one HTTP body (frame)
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // Connections (http_server.h): caps, and deadlines a slow client cannot stretch.
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 32;
  std::chrono::milliseconds head_timeout{std::chrono::seconds(10)};  // also the keep-alive idle time
  std::chrono::milliseconds body_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
  std::string tls_cert_path;  // both set: HTTPS
  std::string tls_key_path;
  std::shared_ptr<const ApiKeyStore> api_keys;  // null or empty: no keys, loopback only
  // Limits of a key whose entry leaves one at 0 (0 here: unlimited). The
  // anonymous client (no keys) takes the rates, and max_sessions sessions.
  KeyLimits key_defaults{8, 0, 0};
  bool insecure = false;  // allow plain HTTP on a non-loopback address
  // Where sessions live (session_store.h): "" or "memory", this process;
  // "redis://[[USER]:PASSWORD@]HOST:PORT[/DB]", Redis, shared by replicas,
  // each keeping the keys it parsed in a cache of key_cache_bytes.
  std::string session_store;
  std::uint64_t key_cache_bytes = 1ull << 30;
};

// One API key's (or the anonymous client's) figures.
struct KeyMetrics {
  std::string name;
  KeyLimits limits;
  std::uint64_t sessions = 0;
  std::uint64_t session_memory_bytes = 0;
  std::uint64_t requests = 0;
  std::uint64_t rows = 0;
  std::uint64_t rate_limited = 0;
};

// Counters since the server started, and gauges now.
struct ServerMetrics {
  std::uint64_t sessions_active = 0;
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_closed = 0;
  std::uint64_t sessions_expired = 0;
  std::uint64_t session_memory_bytes = 0;  // counted memory of the open sessions
  std::uint64_t memory_reserved_bytes = 0;  // sessions + request bodies in flight
  std::uint64_t memory_limit_bytes = 0;
  std::uint64_t requests = 0;   // frames handled (any type)
  std::uint64_t linear_calls = 0;
  std::uint64_t errors = 0;     // error replies sent
  std::uint64_t unauthorized = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t busy = 0;       // server_busy replies (memory budget, a session's call in progress)
  std::uint64_t bytes_in = 0;   // request frame bytes
  std::uint64_t bytes_out = 0;  // reply frame bytes
  double latency_seconds_sum = 0;  // handling time of every frame (latency_count frames)
  std::uint64_t latency_count = 0;
  double latency_seconds_max = 0;
  double service_seconds_sum = 0;  // time inside RemoteService::call
  std::uint64_t connections_open = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t connection_timeouts = 0;
  std::uint64_t resident_bytes = 0;  // the process's RSS
  // A shared session store's key cache (redis_session_store.h).
  bool shared_session_store = false;
  std::uint64_t key_cache_hits = 0, key_cache_misses = 0, key_cache_evictions = 0, key_cache_limit_bytes = 0;
  // Budgets (ServerConfig).
  std::uint64_t max_sessions = 0, max_session_bytes = 0, max_connections = 0;
  std::vector<KeyMetrics> keys;
};

class Server {
 public:
  // `service` must outlive the server.
  Server(hybrid::RemoteService& service, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads.
  // @throws Error(invalid_argument) for a non-loopback address without API
  //         keys, or without TLS and without `insecure`; Error(io_error) when
  //         the address cannot be bound or the TLS files cannot be loaded.
  void start();
  // Port actually bound (differs from config.port when that was 0).
  int port() const;
  // Blocks until stop() is called from another thread.
  void wait();
  // Closes every connection, waits for running handlers, drops every
  // session. Returns within seconds whatever the clients do. Idempotent.
  void stop();

  ServerMetrics metrics() const;
  std::size_t session_count() const;

  // Handles one frame as POST /v1/message does for the anonymous client (or
  // the key named `key`, when keys are set) and returns the reply frame;
  // never throws. `http_status` receives the status the HTTP layer sends.
  Bytes handle_frame(ByteView request, int* http_status = nullptr, const std::string& key = {});

  // Prometheus text of metrics().
  std::string metrics_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HTTP status an error reply of this code is sent with.
int http_status_for(ErrorCode code) noexcept;

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host) noexcept;

}  // namespace fhellm::net
