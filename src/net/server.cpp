#include "net/server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net/http_server.h"
#include "net/memory_budget.h"
#include "net/memory_session_store.h"
#include "net/process_memory.h"
#include "net/redis_session_store.h"
#include "net/retry_later.h"
#include "net/server_metrics.h"
#include "net/tenants.h"

namespace fhellm::net {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kLastSequence = std::numeric_limits<std::uint64_t>::max();
// Requests at least this large give their freed memory back when done.
constexpr std::size_t kTrimAfterBytes = 4u << 20;

// Adds to an atomic double (fetch_add for floating atomics is in libstdc++ 13 only).
void atomic_add(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}
void atomic_max(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (old < v && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
}

std::uint64_t default_memory_budget() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 8ull << 30;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 2;
}

int resolve_parallel(int n) {
  if (n > 0) return n;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 2 : static_cast<int>(hw);
}

// What admit() hands to handle(): the caller and the body's reserved bytes.
struct Ticket {
  Tenant* tenant = nullptr;
  Reservation body;
};

HttpReply frame_reply(int status, Bytes frame, int retry_after = 0) {
  HttpReply r;
  r.status = status;
  r.body = std::move(frame);
  r.retry_after_seconds = retry_after;
  return r;
}

}  // namespace

int http_status_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::message_too_large: return 413;
    case ErrorCode::unknown_session: return 404;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::session_limit:
    case ErrorCode::server_busy: return 503;
    case ErrorCode::replayed_message:
    case ErrorCode::wrong_key: return 403;
    case ErrorCode::internal_error: return 500;
    default: break;
  }
  switch (error_kind_of(code)) {
    case ErrorKind::internal:
    case ErrorKind::io: return 500;
    case ErrorKind::security: return 403;
    default: return 400;
  }
}

bool is_loopback_host(const std::string& host) noexcept {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct Server::Impl final : HttpHandler {
  hybrid::RemoteService& service;
  // The digest of the service's description (fixed for its life): a client
  // that sends the same with open_session gets an empty description.
  const DescriptionDigest served_digest;
  ServerConfig config;
  Tenants tenants;
  std::shared_ptr<MemoryBudget> budget;
  std::unique_ptr<HttpServer> http;
  std::thread expiry_thread;

  std::unique_ptr<SessionStore> store;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;

  std::atomic<std::uint64_t> sessions_opened{0}, sessions_closed{0}, sessions_expired{0};
  std::atomic<std::uint64_t> requests{0}, linear_calls{0}, errors{0}, bytes_in{0}, bytes_out{0};
  std::atomic<std::uint64_t> unauthorized{0}, rate_limited{0}, busy{0}, latency_count{0};
  std::atomic<double> latency_sum{0}, latency_max{0}, service_sum{0};

  Impl(hybrid::RemoteService& s, ServerConfig c)
      : service(s),
        served_digest(description_digest(s.description())),
        config(std::move(c)),
        tenants(config.api_keys, config.key_defaults),
        budget(MemoryBudget::make(config.max_memory_bytes != 0 ? config.max_memory_bytes : default_memory_budget())),
        store(make_store()) {}

  std::unique_ptr<SessionStore> make_store() {
    const SessionLimits limits{config.max_sessions, config.max_session_bytes, config.idle_timeout};
    if (config.session_store.empty() || config.session_store == "memory") {
      return std::make_unique<MemorySessionStore>(service, limits, budget);
    }
    RedisStoreConfig r;
    r.url = config.session_store;
    r.limits = limits;
    r.cache_bytes = config.key_cache_bytes;
    return std::make_unique<RedisSessionStore>(service, r, budget);
  }

  // ---- sessions (kept by the store: session_store.h) -------------------------

  Bytes open_session(const Frame& frame, Tenant& tenant) {
    require(frame.header.session_id == 0, ErrorCode::bad_message, "open_session must carry session id 0");
    require(frame.header.sequence < kLastSequence, ErrorCode::bad_message,
            "open_session must carry a sequence number below 2^64 - 1 (close_session needs one above it)");
    const OpenSession message = decode_open_session(frame.payload);
    const auto start = Clock::now();
    const std::uint64_t id = store->open(tenant, message.evaluation_keys, frame.header.sequence);
    const Bytes description = service.description();
    const bool known = message.known_description && *message.known_description == served_digest;
    sessions_opened.fetch_add(1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    return encode_frame({MessageType::open_session_reply, id, frame.header.sequence},
                        encode_open_session_reply(static_cast<std::uint64_t>(ns), known ? ByteView{} : ByteView(description)));
  }

  Bytes linear_call(const Frame& frame, Tenant& tenant) {
    require(frame.header.sequence < kLastSequence, ErrorCode::bad_message,
            "linear_call must carry a sequence number below 2^64 - 1 (close_session needs one above it)");
    const LinearCall message = decode_linear_call(frame.payload);
    Bytes results;
    std::chrono::duration<double> spent{};
    store->call(frame.header.session_id, tenant, frame.header.sequence, [&](hybrid::RemoteSession& session) {
      // The header against the layer, and the rows against the key's budget, before any work.
      const hybrid::CallCost cost = service.call_cost(message.layer_ids, message.rows);
      if (const auto wait = tenant.rows.take(static_cast<double>(cost.rows)); wait.count() > 0) {
        tenant.n_rate_limited.fetch_add(1);
        throw RetryLater(ErrorCode::rate_limited,
                         "key '" + tenant.name + "' has spent its " + std::to_string(tenant.limits.rows_per_hour) +
                             " rows per hour (this call: " + std::to_string(cost.rows) + ")",
                         wait);
      }
      tenant.n_rows.fetch_add(cost.rows);
      const auto start = Clock::now();
      results = service.call(session, message.layer_ids, message.rows);
      spent = Clock::now() - start;
    });
    atomic_add(service_sum, spent.count());
    linear_calls.fetch_add(1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count();
    return encode_linear_call_reply_frame({MessageType::linear_call_reply, frame.header.session_id, frame.header.sequence},
                                          static_cast<std::uint64_t>(ns), results);
  }

  Bytes close_session(const Frame& frame, Tenant& tenant) {
    decode_empty(frame.payload, MessageType::close_session);
    store->close(frame.header.session_id, tenant, frame.header.sequence);
    sessions_closed.fetch_add(1);
    release_free_memory();
    return encode_frame({MessageType::close_session_reply, frame.header.session_id, frame.header.sequence}, {});
  }

  // ---- one frame -----------------------------------------------------------

  Bytes error_frame(const MessageHeader& header, ErrorCode code, std::string_view what) {
    errors.fetch_add(1);
    if (code == ErrorCode::unauthorized) unauthorized.fetch_add(1);
    if (code == ErrorCode::rate_limited) rate_limited.fetch_add(1);
    if (code == ErrorCode::server_busy) busy.fetch_add(1);
    try {
      return encode_frame({MessageType::error_reply, header.session_id, header.sequence},
                          encode_error_reply(code, what));
    } catch (...) {
      return {};
    }
  }

  // The one wrapper: every error becomes an error reply; nothing escapes.
  Bytes handle(ByteView request, Tenant& tenant, int* http_status, int* retry_after) {
    const auto start = Clock::now();
    requests.fetch_add(1);
    tenant.n_requests.fetch_add(1);
    bytes_in.fetch_add(request.size());
    MessageHeader header;  // of the request, once known
    Bytes reply;
    ErrorCode failed = ErrorCode::internal_error;
    bool ok = false;
    try {
      const Frame frame = decode_frame(request, config.max_request_bytes);
      header = frame.header;
      switch (frame.header.type) {
        case MessageType::open_session: reply = open_session(frame, tenant); break;
        case MessageType::linear_call: reply = linear_call(frame, tenant); break;
        case MessageType::close_session: reply = close_session(frame, tenant); break;
        default:
          throw Error(ErrorCode::bad_message,
                      std::string("a server does not accept ") + message_type_name(frame.header.type));
      }
      ok = true;
    } catch (const RetryLater& e) {
      reply = error_frame(header, failed = e.code(), e.what());
      if (retry_after != nullptr) *retry_after = e.seconds;
    } catch (const Error& e) {
      reply = error_frame(header, failed = e.code(), e.what());
    } catch (const std::bad_alloc&) {
      reply = error_frame(header, failed = ErrorCode::server_busy, "server out of memory for this request");
    } catch (const std::exception& e) {
      reply = error_frame(header, failed = ErrorCode::internal_error, std::string("server: ") + e.what());
    } catch (...) {
      reply = error_frame(header, failed = ErrorCode::internal_error, "server: unknown exception");
    }
    bytes_out.fetch_add(reply.size());
    const std::chrono::duration<double> spent = Clock::now() - start;
    atomic_add(latency_sum, spent.count());
    atomic_max(latency_max, spent.count());
    latency_count.fetch_add(1);
    if (http_status != nullptr) *http_status = ok ? 200 : http_status_for(failed);
    return reply;
  }

  // ---- HTTP ------------------------------------------------------------------

  // A request refused from its head (its body never read): counted here.
  HttpReply error_http(ErrorCode code, const std::string& what, int retry_after = 0) {
    requests.fetch_add(1);
    return frame_reply(http_status_for(code), error_frame({}, code, what), retry_after);
  }

  Admission admit(const HttpHead& head) override {
    Admission a;
    if (head.method == "GET" && head.target == "/health") {
      HttpReply r;
      r.content_type = "application/json";
      try {
        r.body = text_body("{\"status\":\"ok\",\"sessions\":" + std::to_string(session_count()) + "}\n");
      } catch (const Error&) {
        // The session store is unreachable: this replica cannot serve a call now.
        r.status = 503;
        r.body = text_body("{\"status\":\"session store unavailable\"}\n");
      }
      a.reply_now = std::move(r);
      return a;
    }
    Tenant* tenant = tenants.authenticate(head.authorization);
    if (head.method == "GET" && head.target == "/metrics") {
      HttpReply r;
      if (tenant == nullptr) {
        r.status = 401;
        r.content_type = "text/plain";
        r.body = text_body("unauthorized: /metrics needs an API key\n");
      } else {
        r.content_type = "text/plain; version=0.0.4";
        r.body = text_body(metrics_text());
      }
      a.reply_now = std::move(r);
      return a;
    }
    if (head.method != "POST" || head.target != "/v1/message") {
      a.reply_now = error_http(ErrorCode::bad_message, "no endpoint " + head.method + " " + head.target);
      a.reply_now->status = 404;
      return a;
    }
    if (tenant == nullptr) {
      a.reply_now = error_http(ErrorCode::unauthorized, "this server needs an API key (Authorization: Bearer KEY)");
      return a;
    }
    if (const auto wait = tenant->requests.take(1); wait.count() > 0) {
      tenant->n_rate_limited.fetch_add(1);
      a.reply_now = error_http(ErrorCode::rate_limited,
                               "key '" + tenant->name + "' is over its " +
                                   std::to_string(tenant->limits.requests_per_second) + " requests per second",
                               1);
      return a;
    }
    const std::uint64_t limit = static_cast<std::uint64_t>(config.max_request_bytes) + kHeaderBytes;
    if (head.content_length && *head.content_length > limit) {
      a.reply_now = body_too_large(head, limit);
      return a;
    }
    auto ticket = std::make_shared<Ticket>();
    ticket->tenant = tenant;
    // A chunked body may grow to the limit: reserve the limit.
    std::optional<Reservation> r = budget->try_reserve(head.content_length.value_or(limit));
    if (!r) {
      a.reply_now = error_http(ErrorCode::server_busy,
                               "server memory budget full (" + std::to_string(budget->used()) + " of " +
                                   std::to_string(budget->limit()) + " bytes held)",
                               1);
      return a;
    }
    ticket->body = std::move(*r);
    a.body_limit = limit;
    a.ticket = std::move(ticket);
    return a;
  }

  HttpReply handle(const HttpHead&, std::string body, std::shared_ptr<void> ticket) override {
    Tenant& tenant = *static_cast<Ticket*>(ticket.get())->tenant;
    int status = 200, retry_after = 0;
    const ByteView view(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    Bytes reply = handle(view, tenant, &status, &retry_after);
    const bool large = body.size() >= kTrimAfterBytes;
    std::string().swap(body);
    if (large) release_free_memory();
    return frame_reply(status, std::move(reply), retry_after);
  }

  HttpReply body_too_large(const HttpHead&, std::uint64_t limit) override {
    return error_http(ErrorCode::message_too_large,
                      "request body exceeds the server's limit of " + std::to_string(limit) + " bytes");
  }

  // ---- expiry ------------------------------------------------------------------

  void expire_idle() {
    const std::uint64_t n = store->expire_idle();
    sessions_expired.fetch_add(n);
    if (n != 0) release_free_memory();
  }

  void expiry_loop() {
    const auto period = std::clamp<std::chrono::milliseconds>(config.idle_timeout / 4, std::chrono::milliseconds(20),
                                                              std::chrono::milliseconds(1000));
    std::unique_lock lock(stop_mutex);
    while (!stopping) {
      stop_cv.wait_for(lock, period);
      if (stopping) break;
      lock.unlock();
      expire_idle();
      lock.lock();
    }
  }

  std::size_t session_count() const { return static_cast<std::size_t>(store->count()); }

  std::string metrics_text() const { return prometheus_text(snapshot()); }

  ServerMetrics snapshot() const {
    ServerMetrics m;
    const SessionStoreMetrics sm = store->metrics();
    m.sessions_active = sm.sessions;
    m.session_memory_bytes = sm.memory_bytes;
    m.key_cache_hits = sm.cache_hits;
    m.key_cache_misses = sm.cache_misses;
    m.key_cache_evictions = sm.cache_evictions;
    m.key_cache_limit_bytes = sm.cache_limit_bytes;
    m.shared_session_store = sm.cache_limit_bytes != 0;
    m.sessions_opened = sessions_opened.load();
    m.sessions_closed = sessions_closed.load();
    m.sessions_expired = sessions_expired.load();
    m.memory_reserved_bytes = budget->used();
    m.memory_limit_bytes = budget->limit();
    m.requests = requests.load();
    m.linear_calls = linear_calls.load();
    m.errors = errors.load();
    m.unauthorized = unauthorized.load();
    m.rate_limited = rate_limited.load();
    m.busy = busy.load();
    m.bytes_in = bytes_in.load();
    m.bytes_out = bytes_out.load();
    m.latency_seconds_sum = latency_sum.load();
    m.latency_count = latency_count.load();
    m.latency_seconds_max = latency_max.load();
    m.service_seconds_sum = service_sum.load();
    if (http) {
      const HttpServerCounters c = http->counters();
      m.connections_open = c.connections_open;
      m.connections_refused = c.connections_refused;
      m.connection_timeouts = c.timeouts;
    }
    m.max_sessions = config.max_sessions;
    m.max_session_bytes = config.max_session_bytes;
    m.max_connections = config.max_connections;
    m.resident_bytes = resident_bytes();
    m.keys = tenants.metrics(*store);
    return m;
  }
};

Server::Server(hybrid::RemoteService& service, ServerConfig config)
    : impl_(std::make_unique<Impl>(service, std::move(config))) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  require(s.http == nullptr, ErrorCode::invalid_argument, "server: start() called twice");
  const bool tls = !s.config.tls_cert_path.empty() && !s.config.tls_key_path.empty();
  if (!is_loopback_host(s.config.host)) {
    require(s.tenants.keys_required(), ErrorCode::invalid_argument,
            "server: without API keys (--api-keys) the server listens on loopback only, not '" + s.config.host +
                "'");
    require(tls || s.config.insecure, ErrorCode::invalid_argument,
            "server: '" + s.config.host +
                "' is not loopback: serve HTTPS (--tls-cert, --tls-key) or say --insecure (keys and "
                "sessions would cross the network in clear)");
  }
  // What loading the service freed (float models, staging buffers) goes back
  // to the system before serving: 0.46 GB of the GPT-2 124M shape's 1.92 GB.
  release_free_memory();
  HttpServerConfig h;
  h.host = s.config.host;
  h.port = s.config.port;
  h.worker_threads = resolve_parallel(s.config.max_parallel_calls);
  h.max_connections = s.config.max_connections;
  h.max_connections_per_address = s.config.max_connections_per_address;
  h.head_timeout = s.config.head_timeout;
  h.body_timeout = s.config.body_timeout;
  h.write_timeout = s.config.write_timeout;
  h.tls_cert_path = s.config.tls_cert_path;
  h.tls_key_path = s.config.tls_key_path;
  s.http = std::make_unique<HttpServer>(s, h);
  s.http->start();
  s.expiry_thread = std::thread([&s] { s.expiry_loop(); });
}

int Server::port() const { return impl_->http ? impl_->http->port() : 0; }

void Server::wait() {
  std::unique_lock lock(impl_->stop_mutex);
  impl_->stop_cv.wait(lock, [this] { return impl_->stopping; });
}

void Server::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.stop_mutex);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.stop_cv.notify_all();
  if (s.http) s.http->stop();
  if (s.expiry_thread.joinable()) s.expiry_thread.join();
  s.store->drop_all();
}

ServerMetrics Server::metrics() const { return impl_->snapshot(); }

std::size_t Server::session_count() const { return impl_->session_count(); }

Bytes Server::handle_frame(ByteView request, int* http_status, const std::string& key) {
  Tenant* tenant = impl_->tenants.by_name(key);
  if (tenant == nullptr) {
    if (http_status != nullptr) *http_status = 401;
    return impl_->error_frame({}, ErrorCode::unauthorized, "no API key named '" + key + "'");
  }
  return impl_->handle(request, *tenant, http_status, nullptr);
}

std::string Server::metrics_text() const { return impl_->metrics_text(); }

}  // namespace fhellm::net
