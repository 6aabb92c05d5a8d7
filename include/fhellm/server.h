// fhellm::Server: holds the linear weights of a model and multiplies them by
// the encrypted activations of clients (fhellm::Client) over HTTP, one
// session per client (docs/protocol.md). The one entry point for programs
// that serve: the CLI's `serve`, the C API, bindings.
//
//   fhellm::ServerOptions o;
//   o.artifact = "gpt2.server";   // from `fhellm compile`
//   o.port = 8600;
//   fhellm::Server server(o);     // loads the weights
//   server.start();               // listens on background threads
//   ...
//   server.stop();
//   std::printf("%llu requests\n", (unsigned long long)server.metrics().requests);
//
// Errors: the plain functions throw fhellm::Error; try_* twins return a
// Status. Thread-safe: stop() and metrics() may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fhellm/error.h"
#include "fhellm/status.h"

namespace fhellm {

struct ServerOptions {
  // What to serve: exactly one of
  std::string artifact;      // NAME.server written by `fhellm compile`
  std::string model;         // a model quantized at load, as compile does, in memory
  std::string random_shape;  // random weights of a named shape: "gpt2-124m", "llama-3.2-1b", "stories260k" (benchmarks)
  std::uint64_t seed = 1;    // random_shape: the weights' seed (a client uses the same)
  std::string remote = "default";  // model / random_shape: the remote modules (as ClientOptions::remote)
  int weight_bits = 8;                // model / random_shape: 2..8
  // The precisions served ("default", "exact"): both ride on one encoding of
  // the weights, made at load (docs/linear.md section 2c), whichever are named.
  std::vector<std::string> precisions = {"default"};
  // Weight privacy S (docs/linear.md section 6, docs/threat-model.md): each
  // reply's flood is 2^S times its weight-dependent noise, so one output
  // value tells a client at most ~2 * 4^-S nats about the weights beyond the
  // product. 0..40; larger S costs traffic and server time (the figures are
  // in docs/linear.md); clients learn S when their session opens.
  int weight_privacy_bits = 0;
  // Keep the int8 weights for the online mode (docs/online.md): clients with
  // precomputed masks get clear products on masked rows. One byte per weight
  // more (ServedModel::online_bytes); the masks' own products use the
  // "default" encoding, which must be served.
  bool online = false;
  // Called during the load after each layer is encoded: (weights encoded, weights in all).
  std::function<void(std::uint64_t, std::uint64_t)> progress;

  // Where and how much (docs/protocol.md, "Limits and checks").
  std::string host = "127.0.0.1";    // without api_keys: loopback only
  int port = 8600;                   // 0: any free port (port() tells which)
  int parallel_calls = 0;            // requests evaluated at once (0: hardware threads)
  std::size_t max_sessions = 64;     // open sessions at once
  std::uint64_t max_session_bytes = 1ull << 30;  // server memory per session
  std::uint64_t max_memory_bytes = 0;            // sessions + request bodies (0: half the machine's memory)
  std::uint32_t max_request_bytes = 256u << 20;  // largest request body
  double idle_timeout_seconds = 600;  // an idle session expires after this
  std::size_t max_connections = 256;             // open connections at once
  std::size_t max_connections_per_address = 32;  // from one peer address
  double head_timeout_seconds = 10;   // a request's head must arrive within (also the keep-alive idle time)
  double body_timeout_seconds = 60;   // a request's body must arrive within
  std::string tls_cert;               // PEM certificate and key, both set: HTTPS
  std::string tls_key;
  bool insecure = false;              // allow plain HTTP on a non-loopback address
  // Who may call (docs/threat-model.md): a key file written by `fhellm api-key
  // add` (empty: no keys, every local client is one "anonymous" tenant), and
  // the limits of a key whose entry sets none (0: unlimited).
  std::string api_keys;
  std::uint32_t key_sessions = 8;
  double key_requests_per_second = 0;
  std::uint64_t key_rows_per_hour = 0;
  // Where sessions live (docs/deploy.md): "" (this process's memory, the
  // default for one machine) or "redis://[[USER]:PASSWORD@]HOST:PORT[/DB]":
  // Redis, shared by every replica serving the same model behind a load
  // balancer. Each replica then keeps the keys it parsed in a cache of
  // key_cache_bytes (least recently used out).
  std::string session_store;
  std::uint64_t key_cache_bytes = 1ull << 30;
};

// What the server holds (sent to every client when its session opens).
struct ServedModel {
  std::string architecture;      // "gpt2", "llama"
  std::size_t n_linear_groups = 0;  // remote groups of layers (Q/K/V count as one)
  int weight_bits = 0;
  std::uint64_t weight_count = 0;   // weights held
  std::uint64_t encoded_bytes = 0;  // their encodings (the server's largest memory)
  std::uint64_t online_bytes = 0;   // the int8 weights kept for the online mode (0 without it)
};

// Counters since start().
struct ServerMetrics {
  std::uint64_t sessions_active = 0;
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_closed = 0;
  std::uint64_t sessions_expired = 0;
  std::uint64_t requests = 0;      // frames handled (any type)
  std::uint64_t linear_calls = 0;
  std::uint64_t errors = 0;        // error replies sent
  std::uint64_t bytes_in = 0;      // request frame bytes
  std::uint64_t bytes_out = 0;     // reply frame bytes
  double latency_seconds_sum = 0;  // handling time of every frame
  double latency_seconds_max = 0;
  double service_seconds_sum = 0;  // time in encrypted products
  std::uint64_t session_memory_bytes = 0;  // counted memory of the open sessions
  std::uint64_t unauthorized = 0;          // requests refused for want of a valid API key
  std::uint64_t rate_limited = 0;          // requests refused by a key's budget
  // With a shared session store: calls that found their session's prepared
  // keys in this process, and calls that loaded them from the store.
  std::uint64_t key_cache_hits = 0;
  std::uint64_t key_cache_misses = 0;
};

class Server {
 public:
  // Loads the weights and encodes them for every precision served; does not listen yet.
  // @throws Error(invalid_argument) for inconsistent options, the loaders'
  //         errors (file_not_found, bad_artifact, ...)
  explicit Server(const ServerOptions& options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Never throws: null and `status` set on failure.
  static std::unique_ptr<Server> try_open(const ServerOptions& options, Status& status) noexcept;

  // Binds and serves on background threads.
  // @throws Error(io_error) when the address cannot be bound or the TLS files
  //         cannot be read, Error(invalid_argument) for a non-loopback host
  //         without api_keys, or without TLS and without `insecure`
  void start();
  Status try_start() noexcept;
  // Blocks until stop() is called from another thread.
  void wait();
  // Stops listening and drops every session. Idempotent; never throws.
  void stop() noexcept;

  int port() const;        // the bound port (the chosen one when options.port was 0)
  std::string url() const;  // "http://HOST:PORT" or "https://..."
  ServedModel served_model() const;
  ServerMetrics metrics() const;
  std::string metrics_text() const;  // Prometheus text exposition of metrics()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fhellm
