// The server facade: the weights (hybrid::RemoteLinearService, from an
// artifact or a model) behind the HTTP server (net::Server).
#include "fhellm/server.h"

#include <algorithm>

#include "he/linear_layout.h"
#include "hybrid/artifact.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"
#include "net/api_keys.h"
#include "net/server.h"

namespace fhellm {
namespace {

std::shared_ptr<hybrid::RemoteLinearService> load_service(const ServerOptions& o) {
  require(int(!o.artifact.empty()) + int(!o.model.empty()) + int(!o.random_shape.empty()) == 1,
          ErrorCode::invalid_argument, "server: give exactly one of `artifact`, `model` and `random_shape`");
  require(!o.precisions.empty(), ErrorCode::invalid_argument, "server: serve at least one precision");
  hybrid::RemoteServiceOptions service;
  service.precisions.clear();
  for (const std::string& p : o.precisions) service.precisions.push_back(he::parse_linear_precision(p));
  require(o.weight_privacy_bits >= 0 && o.weight_privacy_bits <= he::kLinearMaxPrivacyBits,
          ErrorCode::invalid_argument,
          "server: weight_privacy_bits " + std::to_string(o.weight_privacy_bits) + " outside 0.." +
              std::to_string(he::kLinearMaxPrivacyBits));
  service.weight_privacy_bits = o.weight_privacy_bits;
  service.progress = o.progress;
  service.online = o.online;
  // Both precisions a server parses ride on the standard encoding, which the
  // online mode's mask products use too (docs/linear.md section 2c).
  if (!o.artifact.empty()) return hybrid::load_server_artifact(o.artifact, service);
  hybrid::HybridModel hm = !o.random_shape.empty()
                               ? hybrid::HybridModel(model::random_model(model::shape_preset(o.random_shape), o.seed))
                               : hybrid::HybridModel::load(o.model);
  hm.set_remote_modules(o.remote);
  quant::QuantOptions q;
  q.weight_bits = o.weight_bits;
  hm.set_quantization(q);
  return hybrid::make_remote_service(std::move(hm), service);
}

net::ServerConfig server_config(const ServerOptions& o) {
  require(o.port >= 0 && o.port <= 65535, ErrorCode::invalid_argument,
          "server: port " + std::to_string(o.port) + " outside 0..65535");
  require(o.idle_timeout_seconds > 0, ErrorCode::invalid_argument, "server: idle_timeout_seconds must be positive");
  require(o.head_timeout_seconds > 0 && o.body_timeout_seconds > 0, ErrorCode::invalid_argument,
          "server: head and body timeouts must be positive");
  const auto ms = [](double s) { return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1e3)); };
  net::ServerConfig c;
  c.host = o.host;
  c.port = o.port;
  c.max_parallel_calls = o.parallel_calls;
  c.max_sessions = o.max_sessions;
  c.max_session_bytes = o.max_session_bytes;
  c.max_memory_bytes = o.max_memory_bytes;
  c.max_request_bytes = o.max_request_bytes;
  c.idle_timeout = ms(o.idle_timeout_seconds);
  c.max_connections = o.max_connections;
  c.max_connections_per_address = o.max_connections_per_address;
  c.head_timeout = ms(o.head_timeout_seconds);
  c.body_timeout = ms(o.body_timeout_seconds);
  c.tls_cert_path = o.tls_cert;
  c.tls_key_path = o.tls_key;
  c.insecure = o.insecure;
  c.key_defaults = {o.key_sessions, o.key_requests_per_second, o.key_rows_per_hour};
  require(o.session_store.empty() || o.key_cache_bytes > 0, ErrorCode::invalid_argument,
          "server: a shared session store needs a key cache (key_cache_bytes, --key-cache-mb) above 0");
  c.session_store = o.session_store;
  c.key_cache_bytes = o.key_cache_bytes;
  if (!o.api_keys.empty()) {
    c.api_keys = std::make_shared<const net::ApiKeyStore>(net::ApiKeyStore::load(o.api_keys));
    require(!c.api_keys->empty(), ErrorCode::bad_config,
            "server: API key file '" + o.api_keys + "' holds no key (add one with `fhellm api-key add`)");
  }
  return c;
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<hybrid::RemoteLinearService> service;
  net::ServerConfig config;
  std::unique_ptr<net::Server> http;  // declared after `service`, which it uses: destroyed first
};

Server::Server(const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->config = server_config(options);
  impl_->service = load_service(options);
  impl_->service->prepare_sessions();
  impl_->http = std::make_unique<net::Server>(*impl_->service, impl_->config);
}

Server::~Server() { stop(); }

std::unique_ptr<Server> Server::try_open(const ServerOptions& options, Status& status) noexcept {
  std::unique_ptr<Server> server;
  status = catch_status([&] { server = std::make_unique<Server>(options); });
  return server;
}

void Server::start() { impl_->http->start(); }

Status Server::try_start() noexcept {
  return catch_status([&] { start(); });
}

void Server::wait() { impl_->http->wait(); }

void Server::stop() noexcept {
  if (impl_ && impl_->http) impl_->http->stop();
}

int Server::port() const { return impl_->http->port(); }

std::string Server::url() const {
  return std::string(impl_->config.tls_cert_path.empty() ? "http" : "https") + "://" + impl_->config.host + ":" +
         std::to_string(port());
}

ServedModel Server::served_model() const {
  const hybrid::RemoteModelDescription& d = impl_->service->model_description();
  return {d.architecture, d.linears.size(), d.quant.weight_bits, impl_->service->weight_count(),
          impl_->service->encoded_bytes(), impl_->service->online_bytes()};
}

ServerMetrics Server::metrics() const {
  const net::ServerMetrics m = impl_->http->metrics();
  ServerMetrics out;
  out.sessions_active = m.sessions_active;
  out.sessions_opened = m.sessions_opened;
  out.sessions_closed = m.sessions_closed;
  out.sessions_expired = m.sessions_expired;
  out.requests = m.requests;
  out.linear_calls = m.linear_calls;
  out.errors = m.errors;
  out.bytes_in = m.bytes_in;
  out.bytes_out = m.bytes_out;
  out.latency_seconds_sum = m.latency_seconds_sum;
  out.latency_seconds_max = m.latency_seconds_max;
  out.service_seconds_sum = m.service_seconds_sum;
  out.session_memory_bytes = m.session_memory_bytes;
  out.unauthorized = m.unauthorized;
  out.rate_limited = m.rate_limited;
  out.key_cache_hits = m.key_cache_hits;
  out.key_cache_misses = m.key_cache_misses;
  return out;
}

std::string Server::metrics_text() const { return impl_->http->metrics_text(); }

}  // namespace fhellm
