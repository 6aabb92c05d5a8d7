// The client side of `--fhe execute`, for the generate, eval and bench
// commands: wires a HybridModel's execute mode to a server (HTTP) or to an
// in-process server, and turns the session's figures into the summary line
// and JSON fields.
//
//   auto stats = net::enable_execute(hm, {.server_url = "http://127.0.0.1:8600"});
//   hm.set_mode(hybrid::FheMode::execute);
//   auto r = hm.generate(...);
//   auto f = net::execute_figures(*stats, r.ids.size(), r.prefill_seconds + r.decode_seconds);
//   std::fprintf(stderr, "%s\n", net::execute_summary_line(f).c_str());
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fhellm/he/linear_layout.h"
#include "fhellm/hybrid/execute_backend.h"
#include "fhellm/hybrid/hybrid_model.h"

namespace fhellm::net {

struct ExecuteClientOptions {
  std::string server_url;  // empty: the server runs in this process
  std::chrono::milliseconds timeout{120000};  // per exchange; connect: min(timeout, 5 s)
  // When set (a client artifact's description), the server must answer this
  // exact description: client and server come from the same compile.
  std::shared_ptr<const hybrid::Bytes> expected_description;
};

// Registers the execute backend on `hm` (the session opens when the mode is
// first used). Returns the figures, updated after every remote call.
// @throws Error(invalid_argument) for a malformed URL.
std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options);

// Per generated token (prefill included: totals divided by generated tokens).
struct ExecuteFigures {
  double tokens_per_second = 0;
  double ms_per_token = 0;
  double client_ms_per_token = 0;   // everything but the server and the network
  double server_ms_per_token = 0;   // encrypted products on the server
  double network_ms_per_token = 0;  // round trips minus server time
  double bytes_up_per_token = 0;
  double bytes_down_per_token = 0;
  std::uint64_t key_upload_bytes = 0;  // the session's evaluation keys, once
  double session_open_seconds = 0;
  std::uint64_t remote_calls = 0;
};

ExecuteFigures execute_figures(const hybrid::ExecuteStats& stats, std::size_t n_tokens, double seconds);
// "[fhellm] execute: 3.1 tokens/s | 320 ms/token = client 40 + server 250 + network 30 | up 180 KB/token,
//  down 60 KB/token | session keys 1.2 MB"
std::string execute_summary_line(const ExecuteFigures& f);
// (name, value) pairs for a JSON object: the names above.
std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f);

}  // namespace fhellm::net
