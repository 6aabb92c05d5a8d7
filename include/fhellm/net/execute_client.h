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

// Time and traffic of one phase of a generation.
struct ExecutePhase {
  double ms = 0;          // wall time
  double client_ms = 0;   // everything but the server and the network
  double server_ms = 0;   // encrypted products on the server
  double network_ms = 0;  // round trips minus server time
  double bytes_up = 0, bytes_down = 0;
  std::uint64_t calls = 0;
};

// The figures a user gets: the prompt (prefill, up to the first token: the
// time to first token) and each later token (decode), apart.
struct ExecuteFigures {
  std::size_t prompt_rows = 0;    // prompt tokens
  ExecutePhase prefill;           // totals of the prompt's forward pass
  std::size_t decode_tokens = 0;  // tokens after the first
  ExecutePhase decode;            // per decode token
  double ttft_ms = 0;             // = prefill.ms (the session was open before)
  double tokens_per_second = 0;   // generated / (prefill + decode)
  std::uint64_t key_upload_bytes = 0;  // the session's evaluation keys, once
  double session_open_seconds = 0;
  std::uint64_t remote_calls = 0;
};

// `at_first_token`: the stats when the first token came; `at_end`: after the last.
ExecuteFigures execute_figures(const hybrid::ExecuteStats& at_start, const hybrid::ExecuteStats& at_first_token,
                               const hybrid::ExecuteStats& at_end, const hybrid::GenerationResult& r);
// "[fhellm] execute: first token after 1.20 s (prompt 32 tokens: 37.5 ms, 12.1 KB up, 15.2 KB down per row) |
//  decode 320 ms/token = client 40 + server 250 + network 30, up 180 KB, down 60 KB per token | session keys
//  7.8 MB (0.4 s to open)"
std::string execute_summary_line(const ExecuteFigures& f);
// (name, value) pairs for a JSON object: ttft_ms, prefill_ms_per_row,
// prefill_bytes_up_per_row, prefill_bytes_down_per_row, ms_per_token (decode),
// client/server/network_ms_per_token, bytes_up/down_per_token (decode), ...
std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f);

}  // namespace fhellm::net
