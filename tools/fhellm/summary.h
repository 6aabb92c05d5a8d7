// The figures `fhellm generate` and `fhellm bench generate` print after an
// execute run: the prompt (time to first token, per prompt row) and each later
// token (decode) apart, as the summary line and as JSON fields.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fhellm/client.h"

namespace fhellm::cli {

// Time and traffic of one phase.
struct ExecutePhase {
  double ms = 0;          // wall time
  double client_ms = 0;   // everything but the server and the network
  double server_ms = 0;   // encrypted products on the server
  double network_ms = 0;  // round trips minus server time
  double bytes_up = 0, bytes_down = 0;
};

struct ExecuteFigures {
  std::size_t prompt_rows = 0;    // prompt tokens
  ExecutePhase prefill;           // per prompt row
  std::size_t decode_tokens = 0;  // tokens after the first
  ExecutePhase decode;            // per decode token
  double ttft_ms = 0;             // the prompt's forward pass, first token included
  double tokens_per_second = 0;
  std::uint64_t key_upload_bytes = 0;  // the session's evaluation keys, once
  double session_open_seconds = 0;
  std::uint64_t remote_calls = 0;
};

ExecuteFigures execute_figures(const ClientStats& stats);
// "[fhellm] execute: first token after 1.20 s (prompt 32 tokens: 37.5 ms, 12.1 KB up, 15.2 KB down per row) |
//  decode 320 ms/token = client 40 + server 250 + network 30, up 180 KB, down 60 KB per token | session keys
//  7.8 MB (0.4 s to open)"
std::string execute_summary_line(const ExecuteFigures& f);
// (name, value) pairs for a JSON object: ttft_ms, prefill_ms_per_row,
// prefill_server_ms_per_row, prefill_bytes_up_per_row,
// prefill_bytes_down_per_row, ms_per_token (decode), client/server/
// network_ms_per_token, bytes_up/down_per_token (decode), tokens_per_second,
// key_upload_bytes, session_open_seconds, remote_calls.
std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f);

}  // namespace fhellm::cli
