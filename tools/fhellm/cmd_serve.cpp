// fhellm serve: holds the remote layers' weights and answers encrypted linear
// calls over HTTP (protocol: docs/protocol.md). Stops on SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
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
  std::string remote = "all-linear", listen = "127.0.0.1:8600", tls_cert, tls_key;
  int bits = 8;
  int threads = 32;
  int parallel = 0;
  std::size_t max_sessions = 64;
  double max_session_mb = 1024;
  double max_request_mb = 256;
  double idle_timeout_s = 600;
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
  o.online = a.online;
  std::tie(o.host, o.port) = parse_listen(a.listen);
  o.connection_threads = a.threads;
  o.parallel_calls = a.parallel;
  o.max_sessions = a.max_sessions;
  o.max_session_bytes = static_cast<std::uint64_t>(a.max_session_mb * 1e6);
  o.max_request_bytes = static_cast<std::uint32_t>(std::min(a.max_request_mb * 1e6, 1073741824.0));
  o.idle_timeout_seconds = a.idle_timeout_s;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
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
      "in %.0f MB for precision %s; ready in %.1f s)\n",
      server.url().c_str(), d.architecture.c_str(), d.n_linear_groups, d.weight_bits,
      static_cast<double>(d.weight_count) / 1e6, static_cast<double>(d.encoded_bytes) / 1e6, a.precisions.c_str(),
      ready_s);
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
  cmd->add_option("--remote", args->remote, "with --model: remote modules")->capture_default_str();
  cmd->add_option("--bits", args->bits, "with --model: weight bits")->capture_default_str()->check(CLI::Range(2, 8));
  cmd->add_option("--precision", args->precisions,
                  "precisions served (weights encoded at start, one encoding each): default, exact or default,exact")
      ->capture_default_str();
  cmd->add_flag("--online", args->online,
                "also keep the int8 weights: clients with precomputed masks (`fhellm precompute`) get clear products "
                "(docs/online.md)");
  cmd->add_option("--listen", args->listen, "HOST:PORT (port 0: any free port, printed)")->capture_default_str();
  cmd->add_option("--threads", args->threads, "connection threads (bounds keep-alive clients)")->capture_default_str();
  cmd->add_option("--parallel", args->parallel, "linear calls evaluated at once (0: hardware threads)")
      ->capture_default_str();
  cmd->add_option("--max-sessions", args->max_sessions, "open sessions at once")->capture_default_str();
  cmd->add_option("--max-session-mb", args->max_session_mb, "server memory per session")->capture_default_str();
  cmd->add_option("--max-request-mb", args->max_request_mb, "largest request body")->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s, "seconds before an idle session expires")
      ->capture_default_str();
  cmd->add_option("--tls-cert", args->tls_cert, "PEM certificate: serve HTTPS");
  cmd->add_option("--tls-key", args->tls_key, "PEM private key of --tls-cert");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace fhellm::cli
