// fhellm serve: holds the remote layers' weights and answers encrypted linear
// calls over HTTP (protocol: docs/protocol.md). Stops on SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>

#include "commands.h"
#include "fhellm/error.h"
#include "fhellm/he/linear_layout.h"
#include "fhellm/hybrid/artifact.h"
#include "fhellm/hybrid/execute_backend.h"
#include "fhellm/hybrid/hybrid_model.h"
#include "fhellm/model/loader.h"
#include "fhellm/net/server.h"

namespace fhellm::cli {

namespace {

struct ServeArgs {
  std::string artifact, model, shape, precisions = "default";
  bool random_weights = false;
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

// The weights are encoded before the server listens: a progress line on a
// terminal (rewritten in place), nothing when stderr is piped.
std::function<void(std::uint64_t, std::uint64_t)> encoding_progress() {
  if (!isatty(fileno(stderr))) return {};
  return [](std::uint64_t done, std::uint64_t total) {
    std::fprintf(stderr, "\rfhellm serve: encoding weights %3.0f%% (%.1f of %.1f M)%s",
                 100.0 * static_cast<double>(done) / static_cast<double>(total), static_cast<double>(done) / 1e6,
                 static_cast<double>(total) / 1e6, done == total ? "\n" : "");
    std::fflush(stderr);
  };
}

std::vector<he::LinearPrecision> parse_precisions(const std::string& list) {
  std::vector<he::LinearPrecision> out;
  std::stringstream in(list);
  for (std::string p; std::getline(in, p, ',');) out.push_back(he::parse_linear_precision(p));
  require(!out.empty(), ErrorCode::bad_command_line, "--precision: name at least one of default, exact");
  return out;
}

void run_serve(const ServeArgs& a) {
  require(int(!a.artifact.empty()) + int(!a.model.empty()) + int(a.random_weights) == 1, ErrorCode::bad_command_line,
          "serve needs exactly one of --artifact NAME.server, --model PATH or --random-weights --shape NAME");
  const auto start = std::chrono::steady_clock::now();
  hybrid::RemoteServiceOptions options;
  options.precisions = parse_precisions(a.precisions);
  options.progress = encoding_progress();
  std::shared_ptr<hybrid::RemoteLinearService> service;
  if (!a.artifact.empty()) {
    service = hybrid::load_server_artifact(a.artifact, options);
  } else {
    hybrid::HybridModel hm = a.random_weights
                                 ? hybrid::HybridModel(model::random_model(model::shape_preset(a.shape), a.seed))
                                 : hybrid::HybridModel::load(a.model);
    hm.set_remote_modules(a.remote);
    quant::QuantOptions q;
    q.weight_bits = a.bits;
    hm.set_quantization(q);
    service = hybrid::make_remote_service(hm, options);
  }
  net::ServerConfig config;
  std::tie(config.host, config.port) = parse_listen(a.listen);
  config.n_connection_threads = a.threads;
  config.max_parallel_calls = a.parallel;
  config.max_sessions = a.max_sessions;
  config.max_session_bytes = static_cast<std::uint64_t>(a.max_session_mb * 1e6);
  config.max_request_bytes = static_cast<std::uint32_t>(std::min(a.max_request_mb * 1e6, 1073741824.0));
  config.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.idle_timeout_s * 1e3));
  config.tls_cert_path = a.tls_cert;
  config.tls_key_path = a.tls_key;

  // Block the stop signals in every thread (the server's threads inherit the
  // mask), then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  net::Server server(*service, config);
  server.start();
  const auto& d = service->model_description();
  const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "fhellm serve: listening on %s://%s:%d (%s, %zu remote layer groups, %d-bit weights; %.1f M weights encoded "
      "in %.0f MB for precision %s; ready in %.1f s)\n",
      config.tls_cert_path.empty() ? "http" : "https", config.host.c_str(), server.port(), d.architecture.c_str(),
      d.linears.size(), d.quant.weight_bits, static_cast<double>(service->weight_count()) / 1e6,
      static_cast<double>(service->encoded_bytes()) / 1e6, a.precisions.c_str(), ready_s);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "fhellm serve: signal %d, stopping\n", sig);
  server.stop();
  const net::ServerMetrics m = server.metrics();
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
