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

namespace {

ExecutePhase phase_between(const hybrid::ExecuteStats& from, const hybrid::ExecuteStats& to, double seconds,
                           double per) {
  ExecutePhase p;
  const double n = per > 0 ? per : 1.0;
  p.ms = 1e3 * seconds / n;
  p.server_ms = 1e3 * (to.channel.server_seconds - from.channel.server_seconds) / n;
  p.network_ms = 1e3 * (to.channel.network_seconds - from.channel.network_seconds) / n;
  p.client_ms = std::max(0.0, p.ms - p.server_ms - p.network_ms);
  p.bytes_up = static_cast<double>(to.channel.bytes_up - from.channel.bytes_up) / n;
  p.bytes_down = static_cast<double>(to.channel.bytes_down - from.channel.bytes_down) / n;
  p.calls = to.n_calls - from.n_calls;
  return p;
}

}  // namespace

ExecuteFigures execute_figures(const hybrid::ExecuteStats& at_start, const hybrid::ExecuteStats& at_first_token,
                               const hybrid::ExecuteStats& at_end, const hybrid::GenerationResult& r) {
  ExecuteFigures f;
  f.prompt_rows = r.n_prompt;
  f.prefill = phase_between(at_start, at_first_token, r.prefill_seconds, 1.0);
  f.decode_tokens = r.ids.size() > 1 ? r.ids.size() - 1 : 0;
  f.decode = phase_between(at_first_token, at_end, r.decode_seconds, static_cast<double>(f.decode_tokens));
  f.ttft_ms = 1e3 * r.prefill_seconds;
  f.tokens_per_second = r.tokens_per_second();
  f.key_upload_bytes = at_end.key_upload_bytes;
  f.session_open_seconds = at_end.open_seconds;
  f.remote_calls = at_end.n_calls - at_start.n_calls;
  return f;
}

std::string execute_summary_line(const ExecuteFigures& f) {
  const double rows = f.prompt_rows > 0 ? static_cast<double>(f.prompt_rows) : 1.0;
  char prompt[256], decode[256] = "";
  std::snprintf(prompt, sizeof prompt,
                "[fhellm] execute: first token after %.2f s (prompt %zu tokens: %.1f ms, %s up, %s down per row)",
                f.ttft_ms / 1e3, f.prompt_rows, f.prefill.ms / rows, human_bytes(f.prefill.bytes_up / rows).c_str(),
                human_bytes(f.prefill.bytes_down / rows).c_str());
  if (f.decode_tokens > 0)
    std::snprintf(decode, sizeof decode,
                  " | decode %.1f ms/token = client %.1f + server %.1f + network %.1f, up %s, down %s per token",
                  f.decode.ms, f.decode.client_ms, f.decode.server_ms, f.decode.network_ms,
                  human_bytes(f.decode.bytes_up).c_str(), human_bytes(f.decode.bytes_down).c_str());
  char keys[128];
  std::snprintf(keys, sizeof keys, " | session keys %s (%.2f s to open)",
                human_bytes(static_cast<double>(f.key_upload_bytes)).c_str(), f.session_open_seconds);
  return std::string(prompt) + decode + keys;
}

std::vector<std::pair<std::string, double>> execute_json_fields(const ExecuteFigures& f) {
  const double rows = f.prompt_rows > 0 ? static_cast<double>(f.prompt_rows) : 1.0;
  return {{"ttft_ms", f.ttft_ms},
          {"prefill_ms_per_row", f.prefill.ms / rows},
          {"prefill_server_ms_per_row", f.prefill.server_ms / rows},
          {"prefill_bytes_up_per_row", f.prefill.bytes_up / rows},
          {"prefill_bytes_down_per_row", f.prefill.bytes_down / rows},
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

}  // namespace fhellm::net
