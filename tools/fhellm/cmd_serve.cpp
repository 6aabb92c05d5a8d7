// fhellm serve: holds the remote layers' weights and answers encrypted linear
// calls over HTTP (protocol: docs/protocol.md; who may do what:
// docs/threat-model.md). Stops on SIGINT / SIGTERM within seconds.
#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "fhellm/error.h"
#include "model/loader.h"
#include "common/progress.h"
#include "fhellm/server.h"

namespace fhellm::cli {

namespace {

struct ServeArgs {
  std::string artifact, model, shape, precisions = "default";
  bool random_weights = false, online = false;
  std::uint64_t seed = 1;
  std::string remote = "default", listen = "127.0.0.1:8600", tls_cert, tls_key, api_keys;
  int bits = 8;
  int weight_privacy_bits = 0;
  int parallel = 0;
  std::size_t max_sessions = 64;
  std::size_t max_connections = 256, max_connections_per_address = 32;
  double max_session_mb = 1024;
  double max_request_mb = 256;
  double max_memory_mb = 0;
  double idle_timeout_s = 600;
  double head_timeout_s = 10, body_timeout_s = 60;
  std::uint32_t key_sessions = 8;
  double key_rps = 0;
  std::uint64_t key_rows_per_hour = 0;
  bool insecure = false;
  std::string session_store;
  double key_cache_mb = 1024;
};

std::pair<std::string, int> parse_listen(const std::string& s) {
  const auto colon = s.rfind(':');
  require(colon != std::string::npos && colon > 0, ErrorCode::bad_command_line,
          "--listen '" + s + "' must be HOST:PORT");
  const std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  int p = -1;
  try {
    std::size_t used = 0;
    p = std::stoi(port, &used);
    if (used != port.size()) p = -1;
  } catch (...) {
    p = -1;
  }
  require(p >= 0 && p <= 65535, ErrorCode::bad_command_line, "--listen '" + s + "': bad port '" + port + "'");
  return {host, p};
}

// Names only: the server facade refuses an unknown precision by name.
std::vector<std::string> split_precisions(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string p; std::getline(in, p, ',');) out.push_back(p);
  require(!out.empty(), ErrorCode::bad_command_line, "--precision: name at least one of default, exact");
  return out;
}

ServerOptions server_options(const ServeArgs& a) {
  require(int(!a.artifact.empty()) + int(!a.model.empty()) + int(a.random_weights) == 1, ErrorCode::bad_command_line,
          "serve needs exactly one of --artifact NAME.server, --model PATH or --random-weights --shape NAME");
  ServerOptions o;
  o.artifact = a.artifact;
  o.model = a.model;
  if (a.random_weights) {
    o.random_shape = a.shape;
    model::shape_preset(a.shape);  // an unknown or empty shape is refused by name
  }
  o.seed = a.seed;
  o.remote = a.remote;
  o.weight_bits = a.bits;
  o.precisions = split_precisions(a.precisions);
  o.weight_privacy_bits = a.weight_privacy_bits;
  o.online = a.online;
  std::tie(o.host, o.port) = parse_listen(a.listen);
  o.parallel_calls = a.parallel;
  o.max_sessions = a.max_sessions;
  o.max_session_bytes = static_cast<std::uint64_t>(a.max_session_mb * 1e6);
  o.max_memory_bytes = static_cast<std::uint64_t>(a.max_memory_mb * 1e6);
  o.max_request_bytes = static_cast<std::uint32_t>(std::min(a.max_request_mb * 1e6, 1073741824.0));
  o.idle_timeout_seconds = a.idle_timeout_s;
  o.max_connections = a.max_connections;
  o.max_connections_per_address = a.max_connections_per_address;
  o.head_timeout_seconds = a.head_timeout_s;
  o.body_timeout_seconds = a.body_timeout_s;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  o.insecure = a.insecure;
  o.api_keys = a.api_keys;
  o.key_sessions = a.key_sessions;
  o.key_requests_per_second = a.key_rps;
  o.key_rows_per_hour = a.key_rows_per_hour;
  o.session_store = a.session_store;
  // A Redis password from the environment stays out of the process list.
  if (const char* pw = std::getenv("FHELLM_REDIS_PASSWORD"); pw != nullptr && *pw != '\0' &&
      o.session_store.rfind("redis://", 0) == 0 && o.session_store.find('@') == std::string::npos) {
    o.session_store.insert(8, std::string(":") + pw + "@");
  }
  o.key_cache_bytes = static_cast<std::uint64_t>(a.key_cache_mb * 1e6);
  return o;
}

void run_serve(const ServeArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  ServerOptions options = server_options(a);
  // Block the stop signals before any thread starts (the server's and the
  // loaders' threads inherit the mask), then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The weights are encoded before the server listens: a bar on a terminal,
  // plain lines when stderr is piped, nothing with --quiet.
  Progress::Options po;
  po.enabled = !global_flags().quiet;
  Progress progress("fhellm serve: encoding weights", 0, po);
  options.progress = progress.callback();
  Server server(options);
  progress.finish();
  server.start();
  const ServedModel d = server.served_model();
  const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "fhellm serve: listening on %s (%s, %zu remote layer groups, %d-bit weights; %.1f M weights encoded "
      "in %.0f MB for precision %s, weight privacy %d bits; ready in %.1f s; %s; sessions in %s)\n",
      server.url().c_str(), d.architecture.c_str(), d.n_linear_groups, d.weight_bits,
      static_cast<double>(d.weight_count) / 1e6, static_cast<double>(d.encoded_bytes) / 1e6, a.precisions.c_str(),
      a.weight_privacy_bits, ready_s, a.api_keys.empty() ? "no API keys: loopback only" : "API keys required",
      a.session_store.empty() ? "memory" : "a shared store");
  if (a.online)
    std::printf("fhellm serve: online mode: %.0f MB of int8 weights kept for clear products on masked rows\n",
                static_cast<double>(d.online_bytes) / 1e6);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "fhellm serve: signal %d, stopping\n", sig);
  server.stop();
  const ServerMetrics m = server.metrics();
  std::fprintf(stderr, "fhellm serve: %llu sessions, %llu requests (%llu errors), %.1f MB in, %.1f MB out\n",
               static_cast<unsigned long long>(m.sessions_opened), static_cast<unsigned long long>(m.requests),
               static_cast<unsigned long long>(m.errors), static_cast<double>(m.bytes_in) / 1e6,
               static_cast<double>(m.bytes_out) / 1e6);
}

}  // namespace

void register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve the remote linear layers to encrypted clients over HTTP");
  cmd->add_option("--artifact", args->artifact, "NAME.server written by `fhellm compile`");
  cmd->add_option("--model", args->model, "or a model to quantize at start (same as compile, in memory)");
  cmd->add_flag("--random-weights", args->random_weights, "serve random weights of --shape (benchmarks)");
  cmd->add_option("--shape", args->shape, "with --random-weights: gpt2-124m, llama-3.2-1b, stories260k")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "with --random-weights: weight seed (the client uses the same)")
      ->capture_default_str();
  cmd->add_option("--remote", args->remote, "with --model: remote modules (default: every linear layer and the token embedding)")->capture_default_str();
  cmd->add_option("--bits", args->bits, "with --model: weight bits")->capture_default_str()->check(CLI::Range(2, 8));
  cmd->add_option("--precision", args->precisions,
                  "precisions served: default, exact or default,exact (both ride on one encoding, made at start: "
                  "an exact call evaluates each row twice, docs/linear.md section 2c)")
      ->capture_default_str();
  cmd->add_option("--weight-privacy-bits", args->weight_privacy_bits,
                  "S: every reply's flood is 2^S times its weight-dependent noise, so one output value tells a client "
                  "at most ~2*4^-S nats about the weights beyond the product (docs/linear.md section 6; larger S costs "
                  "traffic and server time)")
      ->capture_default_str()
      ->check(CLI::Range(0, 40));
  cmd->add_flag("--online", args->online,
                "also keep the int8 weights: clients with precomputed masks (`fhellm precompute`) get clear products "
                "(docs/online.md)");
  cmd->add_option("--listen", args->listen, "HOST:PORT (port 0: any free port, printed)")->capture_default_str();
  cmd->add_option("--parallel", args->parallel, "requests evaluated at once (0: hardware threads)")
      ->capture_default_str();
  cmd->add_option("--max-sessions", args->max_sessions, "open sessions at once")->capture_default_str();
  cmd->add_option("--max-session-mb", args->max_session_mb, "server memory per session")->capture_default_str();
  cmd->add_option("--max-memory-mb", args->max_memory_mb,
                  "server memory for sessions and request bodies (0: half the machine's)")
      ->capture_default_str();
  cmd->add_option("--max-request-mb", args->max_request_mb, "largest request body")->capture_default_str();
  cmd->add_option("--max-connections", args->max_connections, "open connections at once")->capture_default_str();
  cmd->add_option("--max-connections-per-address", args->max_connections_per_address,
                  "open connections from one peer address")
      ->capture_default_str();
  cmd->add_option("--head-timeout", args->head_timeout_s,
                  "seconds for a request's head to arrive (also the keep-alive idle time)")
      ->capture_default_str();
  cmd->add_option("--body-timeout", args->body_timeout_s, "seconds for a request's body to arrive")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s, "seconds before an idle session expires")
      ->capture_default_str();
  cmd->add_option("--tls-cert", args->tls_cert, "PEM certificate: serve HTTPS");
  cmd->add_option("--tls-key", args->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--api-keys", args->api_keys,
                  "file of API keys (`fhellm api-key add`); without it the server listens on loopback only");
  cmd->add_flag("--insecure", args->insecure, "allow plain HTTP on a non-loopback address");
  cmd->add_option("--key-sessions", args->key_sessions, "sessions a key may hold at once, unless its entry says")
      ->capture_default_str();
  cmd->add_option("--key-rps", args->key_rps, "requests per second per key, unless its entry says (0: unlimited)")
      ->capture_default_str();
  cmd->add_option("--key-rows-per-hour", args->key_rows_per_hour,
                  "rows per hour per key (encrypted rows and online masked rows), unless its entry says (0: unlimited)")
      ->capture_default_str();
  cmd->add_option("--session-store", args->session_store,
                  "where sessions live: redis://HOST:PORT[/DB] (shared by replicas behind a load balancer; password "
                  "from FHELLM_REDIS_PASSWORD); default: this process's memory");
  cmd->add_option("--key-cache-mb", args->key_cache_mb,
                  "with --session-store: memory for the sessions' parsed keys on this replica (least recently used out)")
      ->capture_default_str();
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace fhellm::cli
