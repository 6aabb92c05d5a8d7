#include "fhellm/net/execute_client.h"

#include <cstdio>

#include "fhellm/error.h"
#include "fhellm/net/http_channel.h"

namespace fhellm::net {

namespace {

// Checks that the server's description is the one the client artifact expects.
class CheckedChannel final : public hybrid::RemoteChannel {
 public:
  CheckedChannel(std::unique_ptr<hybrid::RemoteChannel> inner, std::shared_ptr<const hybrid::Bytes> expected)
      : inner_(std::move(inner)), expected_(std::move(expected)) {}
  hybrid::Bytes open_session(hybrid::ByteView keys) override {
    hybrid::Bytes d = inner_->open_session(keys);
    if (expected_ && d != *expected_) {
      inner_->close();
      throw Error(ErrorCode::bad_artifact,
                  "the server serves another model than this client artifact (compile both from one "
                  "`fhellm compile`)");
    }
    return d;
  }
  hybrid::Bytes call(std::span<const std::uint32_t> ids, hybrid::ByteView payload) override {
    return inner_->call(ids, payload);
  }
  void close() noexcept override { inner_->close(); }
  hybrid::ChannelStats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<hybrid::RemoteChannel> inner_;
  std::shared_ptr<const hybrid::Bytes> expected_;
};

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

std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options) {
  auto stats = std::make_shared<hybrid::ExecuteStats>();
  hybrid::ExecuteOptions exec;
  if (options.server_url.empty()) {
    hybrid::use_execute_in_process(hm, exec, stats);
    return stats;
  }
  ChannelConfig config;
  config.url = options.server_url;
  config.io_timeout = options.timeout;
  config.connect_timeout = std::min<std::chrono::milliseconds>(options.timeout, std::chrono::milliseconds(5000));
  { HttpChannel probe(config); }  // validates the URL now, not at the first token
  auto expected = options.expected_description;
  hybrid::use_execute(
      hm,
      [config, expected](hybrid::HybridModel&) -> std::unique_ptr<hybrid::RemoteChannel> {
        return std::make_unique<CheckedChannel>(std::make_unique<HttpChannel>(config), expected);
      },
      exec, stats);
  return stats;
}

ExecuteFigures execute_figures(const hybrid::ExecuteStats& s, std::size_t n_tokens, double seconds) {
  ExecuteFigures f;
  const double n = n_tokens == 0 ? 1.0 : static_cast<double>(n_tokens);
  f.tokens_per_second = seconds > 0 ? static_cast<double>(n_tokens) / seconds : 0;
  f.ms_per_token = 1e3 * seconds / n;
  f.server_ms_per_token = 1e3 * s.channel.server_seconds / n;
  f.network_ms_per_token = 1e3 * s.channel.network_seconds / n;
  f.client_ms_per_token = std::max(0.0, f.ms_per_token - f.server_ms_per_token - f.network_ms_per_token);
  f.bytes_up_per_token = static_cast<double>(s.channel.bytes_up) / n;
  f.bytes_down_per_token = static_cast<double>(s.channel.bytes_down) / n;
  f.key_upload_bytes = s.key_upload_bytes;
  f.session_open_seconds = s.open_seconds;
  f.remote_calls = s.n_calls;
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

}  // namespace fhellm::net
