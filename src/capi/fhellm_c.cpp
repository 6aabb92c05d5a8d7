// The C API: each function converts its arguments, calls a facade inside one
// catch (Status), and keeps the message of a failure for fhellm_last_error.
#include "fhellm/fhellm.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "fhellm/client.h"
#include "fhellm/server.h"
#include "fhellm/version.h"

struct fhellm_client {
  fhellm::Client client;
};

struct fhellm_server {
  fhellm::Server server;
};

namespace {

thread_local std::string last_error;

fhellm_status report(const fhellm::Status& s) {
  if (s.ok()) return FHELLM_OK;
  last_error = s.message();
  return static_cast<fhellm_status>(s.code());
}

fhellm_status invalid(const char* message) {
  return report(fhellm::Status(fhellm::ErrorCode::invalid_argument, std::string("invalid_argument: ") + message));
}

std::string str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

fhellm::ClientOptions client_options(const fhellm_client_params& p) {
  fhellm::ClientOptions o;
  o.artifact = str(p.artifact);
  o.model = str(p.model);
  o.tokenizer = str(p.tokenizer);
  if (p.fhe != nullptr) o.fhe = p.fhe;
  o.server_url = str(p.server_url);
  if (p.remote != nullptr) o.remote = p.remote;
  if (p.precision != nullptr) o.precision = p.precision;
  o.timeout_seconds = p.timeout_seconds;
  o.api_key = str(p.api_key);
  o.ca_cert = str(p.ca_cert);
  o.simulate_draw = p.simulate_draw;
  o.online = p.online != 0;
  o.online_store = str(p.online_store);
  o.client_key = str(p.client_key);
  return o;
}

fhellm::ServerOptions server_options(const fhellm_server_params& p) {
  fhellm::ServerOptions o;
  o.artifact = str(p.artifact);
  o.model = str(p.model);
  o.random_shape = str(p.random_shape);
  o.seed = p.seed;
  if (p.remote != nullptr) o.remote = p.remote;
  o.weight_bits = p.weight_bits;
  if (p.precisions != nullptr) {
    o.precisions.clear();
    std::stringstream list(p.precisions);
    for (std::string name; std::getline(list, name, ',');) o.precisions.push_back(name);
  }
  if (p.host != nullptr) o.host = p.host;
  o.port = p.port;
  o.max_connections = static_cast<std::size_t>(p.max_connections);
  o.parallel_calls = p.parallel_calls;
  o.max_sessions = static_cast<std::size_t>(p.max_sessions);
  o.max_session_bytes = p.max_session_bytes;
  o.max_request_bytes = p.max_request_bytes;
  o.idle_timeout_seconds = p.idle_timeout_seconds;
  o.tls_cert = str(p.tls_cert);
  o.tls_key = str(p.tls_key);
  o.api_keys = str(p.api_keys);
  o.weight_privacy_bits = p.weight_privacy_bits;
  o.session_store = str(p.session_store);
  o.key_cache_bytes = p.key_cache_bytes;
  o.online = p.online != 0;
  return o;
}

}  // namespace

extern "C" {

const char* fhellm_version(void) { return FHELLM_VERSION_STRING; }

const char* fhellm_last_error(void) { return last_error.c_str(); }

const char* fhellm_error_name(fhellm_status code) {
  if (code == FHELLM_OK) return "ok";
  const std::string_view name = fhellm::error_code_name(static_cast<fhellm::ErrorCode>(code));
  return name.data();  // names are NUL-terminated literals
}

void fhellm_string_free(char* s) { std::free(s); }

fhellm_client_params fhellm_client_default_params(void) {
  const fhellm::ClientOptions d;
  fhellm_client_params p{};
  p.timeout_seconds = d.timeout_seconds;
  return p;
}

fhellm_status fhellm_client_open(const fhellm_client_params* params, fhellm_client** out) {
  if (out == nullptr) return invalid("fhellm_client_open: out is NULL");
  *out = nullptr;
  if (params == nullptr) return invalid("fhellm_client_open: params is NULL");
  return report(fhellm::catch_status([&] { *out = new fhellm_client{fhellm::Client(client_options(*params))}; }));
}

void fhellm_client_free(fhellm_client* client) { delete client; }

fhellm_generate_params fhellm_generate_default_params(void) {
  const fhellm::GenerateOptions d;
  fhellm_generate_params p{};
  p.max_tokens = static_cast<std::uint32_t>(d.max_tokens);
  p.temperature = d.temperature;
  p.top_p = d.top_p;
  p.top_k = static_cast<std::uint32_t>(d.top_k);
  p.seed = d.seed;
  p.stop_at_eos = d.stop_at_eos ? 1 : 0;
  return p;
}

fhellm_status fhellm_client_generate(fhellm_client* client, const char* prompt, const fhellm_generate_params* params,
                                     fhellm_text_callback on_text, void* user_data, char** text_out) {
  if (text_out != nullptr) *text_out = nullptr;
  if (client == nullptr || prompt == nullptr) return invalid("fhellm_client_generate: client or prompt is NULL");
  const fhellm_generate_params p = params != nullptr ? *params : fhellm_generate_default_params();
  fhellm::GenerateOptions o;
  o.max_tokens = p.max_tokens;
  o.temperature = p.temperature;
  o.top_p = p.top_p;
  o.top_k = p.top_k;
  o.seed = p.seed;
  o.stop_at_eos = p.stop_at_eos != 0;
  o.reuse_prefix = p.reuse_prefix != 0;
  fhellm::TextCallback callback;
  if (on_text != nullptr) {
    callback = [on_text, user_data](std::string_view piece) { return on_text(piece.data(), piece.size(), user_data) != 0; };
  }
  fhellm::GenerateResult r;
  const fhellm::Status s = client->client.try_generate(prompt, o, callback, r);
  if (s.ok() && text_out != nullptr) *text_out = copy_string(r.text);
  return report(s);
}

void fhellm_client_cancel(fhellm_client* client) {
  if (client != nullptr) client->client.cancel();
}

fhellm_status fhellm_client_perplexity(fhellm_client* client, const char* text, size_t window, double* perplexity) {
  if (client == nullptr || text == nullptr || perplexity == nullptr) {
    return invalid("fhellm_client_perplexity: client, text or perplexity is NULL");
  }
  fhellm::PerplexityResult r;
  const fhellm::Status s = client->client.try_perplexity(text, {.window = window}, r);
  if (s.ok()) *perplexity = r.perplexity;
  return report(s);
}

fhellm_status fhellm_client_set_fhe_mode(fhellm_client* client, const char* fhe) {
  if (client == nullptr || fhe == nullptr) return invalid("fhellm_client_set_fhe_mode: client or fhe is NULL");
  return report(fhellm::catch_status([&] { client->client.set_fhe_mode(fhe); }));
}

void fhellm_client_last_stats(const fhellm_client* client, fhellm_client_stats* out) {
  if (client == nullptr || out == nullptr) return;
  const fhellm::ClientStats& s = client->client.last_stats();
  *out = {s.n_prompt_tokens, s.n_generated_tokens, s.total_ms, s.prefill_ms, s.decode_ms,
          s.ttft_ms, s.prefill_ms_per_row, s.decode_ms_per_token, s.tokens_per_second, s.remote_calls,
          s.remote_ms, s.server_ms, s.network_ms, s.client_ms, s.crypto_ms,
          s.bytes_up, s.bytes_down, s.session_key_bytes, s.session_open_ms, s.n_cached_prompt_tokens,
          s.online_rows, s.fallback_rows};
}

fhellm_status fhellm_client_precompute(fhellm_client* client, uint64_t rows, uint64_t head_rows, uint64_t* rows_made) {
  if (rows_made != nullptr) *rows_made = 0;
  if (client == nullptr) return invalid("fhellm_client_precompute: client is NULL");
  fhellm::PrecomputeOptions o;
  o.rows = static_cast<std::size_t>(rows);
  o.head_rows = static_cast<std::size_t>(head_rows);
  fhellm::PrecomputeResult r;
  const fhellm::Status s = client->client.try_precompute(o, r);
  if (s.ok() && rows_made != nullptr) *rows_made = r.rows_made;
  return report(s);
}

fhellm_server_params fhellm_server_default_params(void) {
  const fhellm::ServerOptions d;
  fhellm_server_params p{};
  p.seed = d.seed;
  p.weight_bits = d.weight_bits;
  p.port = d.port;
  p.max_connections = d.max_connections;
  p.parallel_calls = d.parallel_calls;
  p.max_sessions = d.max_sessions;
  p.max_session_bytes = d.max_session_bytes;
  p.max_request_bytes = d.max_request_bytes;
  p.idle_timeout_seconds = d.idle_timeout_seconds;
  p.key_cache_bytes = d.key_cache_bytes;
  return p;
}

fhellm_status fhellm_server_open(const fhellm_server_params* params, fhellm_server** out) {
  if (out == nullptr) return invalid("fhellm_server_open: out is NULL");
  *out = nullptr;
  if (params == nullptr) return invalid("fhellm_server_open: params is NULL");
  const fhellm::ServerOptions o = server_options(*params);
  return report(fhellm::catch_status([&] { *out = new fhellm_server{fhellm::Server(o)}; }));
}

fhellm_status fhellm_server_start(fhellm_server* server) {
  if (server == nullptr) return invalid("fhellm_server_start: server is NULL");
  return report(server->server.try_start());
}

int fhellm_server_port(const fhellm_server* server) { return server == nullptr ? -1 : server->server.port(); }

void fhellm_server_wait(fhellm_server* server) {
  if (server != nullptr) server->server.wait();
}

void fhellm_server_stop(fhellm_server* server) {
  if (server != nullptr) server->server.stop();
}

void fhellm_server_free(fhellm_server* server) { delete server; }

void fhellm_server_get_metrics(const fhellm_server* server, fhellm_server_metrics* out) {
  if (server == nullptr || out == nullptr) return;
  const fhellm::ServerMetrics m = server->server.metrics();
  *out = {m.sessions_active, m.sessions_opened, m.sessions_closed, m.sessions_expired, m.requests, m.linear_calls,
          m.errors, m.bytes_in, m.bytes_out, m.latency_seconds_sum, m.latency_seconds_max, m.service_seconds_sum};
}

}  // extern "C"
