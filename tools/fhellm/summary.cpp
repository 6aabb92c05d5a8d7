#include "summary.h"

#include <algorithm>
#include <cstdio>

namespace fhellm::cli {
namespace {

std::string human_bytes(double b) {
  char buf[64];
  if (b >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  } else if (b >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1f KB", b / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  }
  return buf;
}

}  // namespace

namespace {

ExecutePhase phase(double ms, double server_ms, double network_ms, std::uint64_t up, std::uint64_t down, double per) {
  const double n = per > 0 ? per : 1.0;
  ExecutePhase p;
  p.ms = ms / n;
  p.server_ms = server_ms / n;
  p.network_ms = network_ms / n;
  p.client_ms = std::max(0.0, p.ms - p.server_ms - p.network_ms);
  p.bytes_up = static_cast<double>(up) / n;
  p.bytes_down = static_cast<double>(down) / n;
  return p;
}

}  // namespace

ExecuteFigures execute_figures(const ClientStats& s) {
  ExecuteFigures f;
  f.prompt_rows = s.n_prompt_tokens;
  f.prefill = phase(s.prefill_ms, s.prefill_server_ms, s.prefill_network_ms, s.prefill_bytes_up, s.prefill_bytes_down,
                    static_cast<double>(s.n_prompt_tokens));
  f.decode_tokens = s.n_generated_tokens > 1 ? s.n_generated_tokens - 1 : 0;
  f.decode = phase(s.decode_ms, s.decode_server_ms, s.decode_network_ms, s.decode_bytes_up, s.decode_bytes_down,
                   static_cast<double>(f.decode_tokens));
  f.ttft_ms = s.ttft_ms;
  f.tokens_per_second = s.tokens_per_second;
  f.key_upload_bytes = s.session_key_bytes;
  f.session_open_seconds = s.session_open_ms / 1e3;
  f.remote_calls = s.remote_calls;
  return f;
}

std::string execute_summary_line(const ExecuteFigures& f) {
  char prompt[256], decode[256] = "", keys[128];
  std::snprintf(prompt, sizeof prompt,
                "[fhellm] execute: first token after %.2f s (prompt %zu tokens: %.1f ms, %s up, %s down per row)",
                f.ttft_ms / 1e3, f.prompt_rows, f.prefill.ms, human_bytes(f.prefill.bytes_up).c_str(),
                human_bytes(f.prefill.bytes_down).c_str());
  if (f.decode_tokens > 0)
    std::snprintf(decode, sizeof decode,
                  " | decode %.1f ms/token = client %.1f + server %.1f + network %.1f, up %s, down %s per token",
                  f.decode.ms, f.decode.client_ms, f.decode.server_ms, f.decode.network_ms,
                  human_bytes(f.decode.bytes_up).c_str(), human_bytes(f.decode.bytes_down).c_str());
  std::snprintf(keys, sizeof keys, " | session keys %s (%.2f s to open)",
                human_bytes(static_cast<double>(f.key_upload_bytes)).c_str(), f.session_open_seconds);
  return std::string(prompt) + decode + keys;
}

std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f) {
  return {{"ttft_ms", f.ttft_ms},
          {"prefill_ms_per_row", f.prefill.ms},
          {"prefill_server_ms_per_row", f.prefill.server_ms},
          {"prefill_bytes_up_per_row", f.prefill.bytes_up},
          {"prefill_bytes_down_per_row", f.prefill.bytes_down},
          {"decode_tokens", static_cast<double>(f.decode_tokens)},
          {"ms_per_token", f.decode.ms},
          {"client_ms_per_token", f.decode.client_ms},
          {"server_ms_per_token", f.decode.server_ms},
          {"network_ms_per_token", f.decode.network_ms},
          {"bytes_up_per_token", f.decode.bytes_up},
          {"bytes_down_per_token", f.decode.bytes_down},
          {"tokens_per_second", f.tokens_per_second},
          {"key_upload_bytes", static_cast<double>(f.key_upload_bytes)},
          {"session_open_seconds", f.session_open_seconds},
          {"remote_calls", static_cast<double>(f.remote_calls)}};
}

}  // namespace fhellm::cli
