#include "client/generation_stats.h"

#include <algorithm>

namespace fhellm::client {
namespace {

double ms(double seconds) { return 1e3 * seconds; }

}  // namespace

hybrid::ExecuteStats sum_stats(const hybrid::ExecuteStats& a, const hybrid::ExecuteStats& b) {
  hybrid::ExecuteStats s = a;
  s.channel.n_calls += b.channel.n_calls;
  s.channel.bytes_up += b.channel.bytes_up;
  s.channel.bytes_down += b.channel.bytes_down;
  s.channel.session_bytes_up += b.channel.session_bytes_up;
  s.channel.session_bytes_down += b.channel.session_bytes_down;
  s.channel.server_seconds += b.channel.server_seconds;
  s.channel.network_seconds += b.channel.network_seconds;
  s.client_seconds += b.client_seconds;
  s.open_seconds += b.open_seconds;
  s.key_upload_bytes += b.key_upload_bytes;
  s.n_sessions_opened += b.n_sessions_opened;
  s.n_calls += b.n_calls;
  s.n_rows += b.n_rows;
  return s;
}

ClientStats generation_stats(const hybrid::GenerationResult& r) {
  ClientStats s;
  s.n_prompt_tokens = r.n_prompt;
  s.n_cached_prompt_tokens = r.n_cached;
  s.n_generated_tokens = r.ids.size();
  s.prefill_ms = ms(r.prefill_seconds);
  s.decode_ms = ms(r.decode_seconds);
  s.total_ms = s.prefill_ms + s.decode_ms;
  s.ttft_ms = s.prefill_ms;
  const std::size_t rows = r.n_prompt - r.n_cached;  // the prompt rows this call computed
  s.prefill_ms_per_row = rows > 0 ? s.prefill_ms / static_cast<double>(rows) : 0;
  s.decode_ms_per_token = r.ids.size() > 1 ? s.decode_ms / static_cast<double>(r.ids.size() - 1) : 0;
  s.tokens_per_second = r.tokens_per_second();
  s.remote_calls = r.remote.n_calls;
  s.remote_ms = ms(r.remote.seconds);
  return s;
}

void add_execute_figures(ClientStats& s, const hybrid::ExecuteStats& before, const hybrid::ExecuteStats& first,
                         const hybrid::ExecuteStats& after) {
  s.server_ms = ms(after.channel.server_seconds - before.channel.server_seconds);
  s.network_ms = ms(after.channel.network_seconds - before.channel.network_seconds);
  s.crypto_ms = ms(after.client_seconds - before.client_seconds);
  s.client_ms = std::max(0.0, s.total_ms - s.server_ms - s.network_ms);
  s.bytes_up = after.channel.bytes_up - before.channel.bytes_up;
  s.bytes_down = after.channel.bytes_down - before.channel.bytes_down;
  s.session_key_bytes = after.key_upload_bytes;
  s.key_bytes_up = after.n_sessions_opened != before.n_sessions_opened ? after.key_upload_bytes : 0;
  s.session_open_ms = ms(after.open_seconds);
  s.prefill_server_ms = ms(first.channel.server_seconds - before.channel.server_seconds);
  s.prefill_network_ms = ms(first.channel.network_seconds - before.channel.network_seconds);
  s.prefill_bytes_up = first.channel.bytes_up - before.channel.bytes_up;
  s.prefill_bytes_down = first.channel.bytes_down - before.channel.bytes_down;
  s.decode_server_ms = ms(after.channel.server_seconds - first.channel.server_seconds);
  s.decode_network_ms = ms(after.channel.network_seconds - first.channel.network_seconds);
  s.decode_bytes_up = after.channel.bytes_up - first.channel.bytes_up;
  s.decode_bytes_down = after.channel.bytes_down - first.channel.bytes_down;
}

}  // namespace fhellm::client
