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

ExecuteFigures execute_figures(const ClientStats& s) {
  ExecuteFigures f;
  const std::size_t n_tokens = s.n_generated_tokens;
  const double n = n_tokens == 0 ? 1.0 : static_cast<double>(n_tokens);
  const double seconds = s.total_ms / 1e3;
  f.tokens_per_second = seconds > 0 ? static_cast<double>(n_tokens) / seconds : 0;
  f.ms_per_token = s.total_ms / n;
  f.server_ms_per_token = s.server_ms / n;
  f.network_ms_per_token = s.network_ms / n;
  f.client_ms_per_token = std::max(0.0, f.ms_per_token - f.server_ms_per_token - f.network_ms_per_token);
  f.bytes_up_per_token = static_cast<double>(s.bytes_up) / n;
  f.bytes_down_per_token = static_cast<double>(s.bytes_down) / n;
  f.key_upload_bytes = s.session_key_bytes;
  f.session_open_seconds = s.session_open_ms / 1e3;
  f.remote_calls = s.remote_calls;
  return f;
}

std::string execute_summary_line(const ExecuteFigures& f) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "[fhellm] execute: %.2f tokens/s | %.1f ms/token = client %.1f + server %.1f + network %.1f | "
                "up %s/token, down %s/token | session keys %s (%.2f s to open)",
                f.tokens_per_second, f.ms_per_token, f.client_ms_per_token, f.server_ms_per_token,
                f.network_ms_per_token, human_bytes(f.bytes_up_per_token).c_str(),
                human_bytes(f.bytes_down_per_token).c_str(), human_bytes(static_cast<double>(f.key_upload_bytes)).c_str(),
                f.session_open_seconds);
  return buf;
}

std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f) {
  return {{"tokens_per_second", f.tokens_per_second},
          {"ms_per_token", f.ms_per_token},
          {"client_ms_per_token", f.client_ms_per_token},
          {"server_ms_per_token", f.server_ms_per_token},
          {"network_ms_per_token", f.network_ms_per_token},
          {"bytes_up_per_token", f.bytes_up_per_token},
          {"bytes_down_per_token", f.bytes_down_per_token},
          {"key_upload_bytes", static_cast<double>(f.key_upload_bytes)},
          {"session_open_seconds", f.session_open_seconds},
          {"remote_calls", static_cast<double>(f.remote_calls)}};
}

}  // namespace fhellm::cli
