#include "net/server_metrics.h"

#include <sstream>

namespace fhellm::net {

namespace {

class PrometheusWriter {
 public:
  // A metric family: HELP and TYPE once, then its samples.
  PrometheusWriter& family(const char* name, const char* type, const char* help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    return *this;
  }
  template <class T>
  PrometheusWriter& sample(const std::string& name, T value, const std::string& labels = {}) {
    out_ << name;
    if (!labels.empty()) out_ << '{' << labels << '}';
    out_ << ' ' << value << '\n';
    return *this;
  }
  template <class T>
  PrometheusWriter& one(const char* name, const char* type, const char* help, T value) {
    return family(name, type, help).sample(name, value);
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

// Key names are [A-Za-z0-9_.-] (api_keys.h): nothing to escape.
std::string key_label(const KeyMetrics& k) { return "key=\"" + k.name + "\""; }

void write_keys(PrometheusWriter& w, const ServerMetrics& m) {
  auto per_key = [&](const char* name, const char* type, const char* help, auto value_of) {
    w.family(name, type, help);
    for (const KeyMetrics& k : m.keys) w.sample(name, value_of(k), key_label(k));
  };
  per_key("fhellm_key_sessions", "gauge", "Open sessions of the key.", [](const KeyMetrics& k) { return k.sessions; });
  per_key("fhellm_key_session_memory_bytes", "gauge", "Counted server memory of the key's open sessions.",
          [](const KeyMetrics& k) { return k.session_memory_bytes; });
  per_key("fhellm_key_requests_total", "counter", "Requests of the key.", [](const KeyMetrics& k) { return k.requests; });
  per_key("fhellm_key_rows_total", "counter", "Encrypted rows the key's linear calls carried.",
          [](const KeyMetrics& k) { return k.rows; });
  per_key("fhellm_key_rate_limited_total", "counter", "Requests of the key refused by a rate budget.",
          [](const KeyMetrics& k) { return k.rate_limited; });
  per_key("fhellm_key_sessions_limit", "gauge", "Sessions the key may hold at once (0: unlimited).",
          [](const KeyMetrics& k) { return k.limits.sessions; });
  per_key("fhellm_key_requests_per_second_limit", "gauge", "Requests per second the key may send (0: unlimited).",
          [](const KeyMetrics& k) { return k.limits.requests_per_second; });
  per_key("fhellm_key_rows_per_hour_limit", "gauge", "Encrypted rows per hour the key may send (0: unlimited).",
          [](const KeyMetrics& k) { return k.limits.rows_per_hour; });
}

}  // namespace

std::string prometheus_text(const ServerMetrics& m) {
  PrometheusWriter w;
  w.one("fhellm_sessions_active", "gauge", "Open sessions.", m.sessions_active);
  w.one("fhellm_sessions_limit", "gauge", "Sessions the server holds at most.", m.max_sessions);
  w.one("fhellm_sessions_opened_total", "counter", "Sessions opened.", m.sessions_opened);
  w.one("fhellm_sessions_closed_total", "counter", "Sessions closed by their client.", m.sessions_closed);
  w.one("fhellm_sessions_expired_total", "counter", "Sessions dropped after idling.", m.sessions_expired);
  w.one("fhellm_sessions_memory_bytes", "gauge", "Counted server memory of all open sessions.",
        m.session_memory_bytes);
  w.one("fhellm_session_memory_bytes", "gauge", "Counted server memory per open session (mean; 0 with none).",
        m.sessions_active == 0 ? 0 : m.session_memory_bytes / m.sessions_active);
  w.one("fhellm_session_memory_limit_bytes", "gauge", "Counted memory one session may hold.", m.max_session_bytes);
  w.one("fhellm_memory_reserved_bytes", "gauge", "Server memory budget in use: sessions and request bodies.",
        m.memory_reserved_bytes);
  w.one("fhellm_memory_limit_bytes", "gauge", "Server memory budget.", m.memory_limit_bytes);
  w.one("process_resident_memory_bytes", "gauge", "Resident memory of the server process.", m.resident_bytes);
  w.one("fhellm_requests_total", "counter", "Frames handled.", m.requests);
  w.one("fhellm_linear_calls_total", "counter", "Linear calls evaluated.", m.linear_calls);
  w.one("fhellm_errors_total", "counter", "Error replies sent.", m.errors);
  w.one("fhellm_unauthorized_total", "counter", "Requests refused for want of a valid API key.", m.unauthorized);
  w.one("fhellm_rate_limited_total", "counter", "Requests refused by a key's rate budget.", m.rate_limited);
  w.one("fhellm_busy_total", "counter", "Requests refused with server_busy.", m.busy);
  w.one("fhellm_bytes_in_total", "counter", "Request bytes received.", m.bytes_in);
  w.one("fhellm_bytes_out_total", "counter", "Reply bytes sent.", m.bytes_out);
  w.family("fhellm_request_duration_seconds", "summary", "Time spent handling frames.")
      .sample("fhellm_request_duration_seconds_sum", m.latency_seconds_sum)
      .sample("fhellm_request_duration_seconds_count", m.latency_count);
  w.one("fhellm_request_duration_seconds_max", "gauge", "Longest frame handling time.", m.latency_seconds_max);
  w.one("fhellm_service_seconds_total", "counter", "Time spent evaluating linear calls.", m.service_seconds_sum);
  w.one("fhellm_connections_open", "gauge", "Open connections.", m.connections_open);
  w.one("fhellm_connections_limit", "gauge", "Connections the server holds at most.", m.max_connections);
  w.one("fhellm_connections_refused_total", "counter", "Connections closed on accept (over a cap).",
        m.connections_refused);
  w.one("fhellm_connection_timeouts_total", "counter", "Connections closed for a missed deadline.",
        m.connection_timeouts);
  if (m.shared_session_store) {
    w.one("fhellm_key_cache_hits_total", "counter", "Calls that found their session's prepared keys in this replica.",
          m.key_cache_hits);
    w.one("fhellm_key_cache_misses_total", "counter", "Calls that loaded their session's keys from the session store.",
          m.key_cache_misses);
    w.one("fhellm_key_cache_evictions_total", "counter", "Prepared keys dropped for the cache's byte budget.",
          m.key_cache_evictions);
    w.one("fhellm_key_cache_limit_bytes", "gauge", "Byte budget of the prepared keys' cache.",
          m.key_cache_limit_bytes);
  }
  write_keys(w, m);
  return w.str();
}

}  // namespace fhellm::net
