// The figures `fhellm generate` prints after an execute run: per generated
// token (prefill included: totals divided by generated tokens), as the
// summary line and as JSON fields.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fhellm/client.h"

namespace fhellm::cli {

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

ExecuteFigures execute_figures(const ClientStats& stats);
// "[fhellm] execute: 3.1 tokens/s | 320 ms/token = client 40 + server 250 + network 30 | up 180 KB/token,
//  down 60 KB/token | session keys 1.2 MB"
std::string execute_summary_line(const ExecuteFigures& f);
// (name, value) pairs for a JSON object: the names above.
std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f);

}  // namespace fhellm::cli
