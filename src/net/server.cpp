#include "net/server.h"

#include <openssl/rand.h>
#include <sys/socket.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <semaphore>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace fhellm::net {

namespace {

using Clock = std::chrono::steady_clock;

// One client's state. `mutex` serializes its calls (the RemoteSession is
// mutable and the sequence check must be atomic with the call).
struct SessionSlot {
  std::unique_ptr<hybrid::RemoteSession> state;
  std::mutex mutex;
  std::uint64_t last_sequence = 0;
  std::atomic<Clock::rep> last_used{0};
  bool closed = false;  // guarded by mutex
};

std::uint64_t random_session_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    require(RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) == 1, ErrorCode::internal_error,
            "server: OpenSSL RAND_bytes failed");
  }
  return id;
}

// Adds to an atomic double (C++20 has fetch_add for floating atomics only in
// libstdc++ 13; a CAS loop works everywhere).
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

// Holds one of the server's evaluation slots (bounds CPU-heavy work to
// max_parallel_calls however many connections are open).
class CallSlot {
 public:
  explicit CallSlot(std::counting_semaphore<1024>& slots) : slots_(slots) { slots_.acquire(); }
  ~CallSlot() { slots_.release(); }
  CallSlot(const CallSlot&) = delete;
  CallSlot& operator=(const CallSlot&) = delete;

 private:
  std::counting_semaphore<1024>& slots_;
};

}  // namespace

int http_status_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::message_too_large: return 413;
    case ErrorCode::unknown_session: return 404;
    case ErrorCode::session_limit:
    case ErrorCode::rate_limited: return 503;
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

struct Server::Impl {
  hybrid::RemoteService& service;
  ServerConfig config;
  std::unique_ptr<httplib::Server> http;
  std::thread listen_thread;
  std::thread expiry_thread;
  int bound_port = 0;

  mutable std::mutex sessions_mutex;
  std::unordered_map<std::uint64_t, std::shared_ptr<SessionSlot>> sessions;

  std::counting_semaphore<1024> call_slots;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  bool started = false;

  std::atomic<std::uint64_t> sessions_opened{0}, sessions_closed{0}, sessions_expired{0};
  std::atomic<std::uint64_t> requests{0}, linear_calls{0}, errors{0}, bytes_in{0}, bytes_out{0};
  std::atomic<double> latency_sum{0}, latency_max{0}, service_sum{0};
  std::atomic<std::uint64_t> latency_count{0};  // frames whose time latency_sum holds

  Impl(hybrid::RemoteService& s, ServerConfig c)
      : service(s), config(std::move(c)), call_slots(std::clamp(resolve_parallel(config.max_parallel_calls), 1, 1024)) {}

  static int resolve_parallel(int n) {
    if (n > 0) return n;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 2 : static_cast<int>(hw);
  }

  std::shared_ptr<SessionSlot> find_session(std::uint64_t id) {
    std::lock_guard lock(sessions_mutex);
    auto it = sessions.find(id);
    require(it != sessions.end(), ErrorCode::unknown_session,
            "no open session with this id (never opened, closed, or expired after idling)");
    return it->second;
  }

  // Locks the session, checks and consumes the sequence number.
  std::unique_lock<std::mutex> enter(SessionSlot& slot, std::uint64_t sequence) {
    std::unique_lock lock(slot.mutex);
    require(!slot.closed, ErrorCode::unknown_session, "session was closed or expired");
    require(sequence > slot.last_sequence, ErrorCode::replayed_message,
            "sequence number " + std::to_string(sequence) + " is not above the last accepted (" +
                std::to_string(slot.last_sequence) + ")");
    slot.last_sequence = sequence;
    slot.last_used.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    return lock;
  }

  Bytes open_session(const Frame& frame) {
    require(frame.header.session_id == 0, ErrorCode::bad_message, "open_session must carry session id 0");
    const OpenSession message = decode_open_session(frame.payload);
    {
      std::lock_guard lock(sessions_mutex);
      require(sessions.size() < config.max_sessions, ErrorCode::session_limit,
              "server holds " + std::to_string(sessions.size()) + " sessions, its limit");
    }
    require(message.evaluation_keys.size() <= config.max_session_bytes, ErrorCode::session_limit,
            "evaluation keys of " + std::to_string(message.evaluation_keys.size()) +
                " bytes exceed the per-session limit of " + std::to_string(config.max_session_bytes));
    const auto start = Clock::now();
    auto slot = std::make_shared<SessionSlot>();
    {
      CallSlot busy(call_slots);
      slot->state = service.open_session(message.evaluation_keys);
    }
    const std::uint64_t memory = slot->state->memory_bytes();
    require(memory <= config.max_session_bytes, ErrorCode::session_limit,
            "session needs " + std::to_string(memory) + " bytes of server memory, limit " +
                std::to_string(config.max_session_bytes));
    slot->last_sequence = frame.header.sequence;
    slot->last_used.store(Clock::now().time_since_epoch().count());
    const Bytes description = service.description();
    std::uint64_t id = 0;
    {
      std::lock_guard lock(sessions_mutex);
      require(sessions.size() < config.max_sessions, ErrorCode::session_limit,
              "server holds " + std::to_string(sessions.size()) + " sessions, its limit");
      do {
        id = random_session_id();
      } while (sessions.count(id) != 0);
      sessions.emplace(id, slot);
    }
    sessions_opened.fetch_add(1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    return encode_frame({MessageType::open_session_reply, id, frame.header.sequence},
                        encode_open_session_reply(static_cast<std::uint64_t>(ns), description));
  }

  Bytes linear_call(const Frame& frame) {
    auto slot = find_session(frame.header.session_id);
    const LinearCall message = decode_linear_call(frame.payload);
    auto lock = enter(*slot, frame.header.sequence);
    CallSlot busy(call_slots);
    const auto start = Clock::now();
    Bytes results = service.call(*slot->state, message.layer_ids, message.rows);
    const std::chrono::duration<double> spent = Clock::now() - start;
    atomic_add(service_sum, spent.count());
    linear_calls.fetch_add(1);
    slot->last_used.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count();
    return encode_frame({MessageType::linear_call_reply, frame.header.session_id, frame.header.sequence},
                        encode_linear_call_reply(static_cast<std::uint64_t>(ns), results));
  }

  Bytes close_session(const Frame& frame) {
    decode_empty(frame.payload, MessageType::close_session);
    auto slot = find_session(frame.header.session_id);
    {
      auto lock = enter(*slot, frame.header.sequence);
      slot->closed = true;
      slot->state.reset();
    }
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(frame.header.session_id);
    }
    sessions_closed.fetch_add(1);
    return encode_frame({MessageType::close_session_reply, frame.header.session_id, frame.header.sequence}, {});
  }

  // The one wrapper: every error becomes an error reply; nothing escapes.
  Bytes handle(ByteView request, int* http_status) {
    const auto start = Clock::now();
    requests.fetch_add(1);
    bytes_in.fetch_add(request.size());
    MessageHeader header;  // of the request, once known
    Bytes reply;
    int status = 200;
    auto fail = [&](ErrorCode code, std::string_view what) {
      errors.fetch_add(1);
      status = http_status_for(code);
      try {
        reply = encode_frame({MessageType::error_reply, header.session_id, header.sequence},
                             encode_error_reply(code, what));
      } catch (...) {
        reply.clear();
      }
    };
    try {
      const Frame frame = decode_frame(request, config.max_request_bytes);
      header = frame.header;
      switch (frame.header.type) {
        case MessageType::open_session: reply = open_session(frame); break;
        case MessageType::linear_call: reply = linear_call(frame); break;
        case MessageType::close_session: reply = close_session(frame); break;
        default:
          throw Error(ErrorCode::bad_message,
                      std::string("a server does not accept ") + message_type_name(frame.header.type));
      }
    } catch (const Error& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail(ErrorCode::session_limit, "server out of memory for this request");
    } catch (const std::exception& e) {
      fail(ErrorCode::internal_error, std::string("server: ") + e.what());
    } catch (...) {
      fail(ErrorCode::internal_error, "server: unknown exception");
    }
    bytes_out.fetch_add(reply.size());
    const std::chrono::duration<double> spent = Clock::now() - start;
    atomic_add(latency_sum, spent.count());
    latency_count.fetch_add(1);
    atomic_max(latency_max, spent.count());
    if (http_status != nullptr) *http_status = status;
    return reply;
  }

  void expire_idle() {
    const auto now = Clock::now().time_since_epoch().count();
    const auto limit = std::chrono::duration_cast<Clock::duration>(config.idle_timeout).count();
    std::vector<std::shared_ptr<SessionSlot>> dropped;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (now - it->second->last_used.load(std::memory_order_relaxed) > limit) {
          dropped.push_back(it->second);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Free the keys outside the registry lock; a call in flight keeps its slot
    // alive through its shared_ptr and finishes normally.
    for (auto& slot : dropped) {
      std::lock_guard lock(slot->mutex);
      slot->closed = true;
      slot->state.reset();
    }
    sessions_expired.fetch_add(dropped.size());
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

  ServerMetrics snapshot() const {
    ServerMetrics m;
    {
      std::lock_guard lock(sessions_mutex);
      m.sessions_active = sessions.size();
    }
    m.sessions_opened = sessions_opened.load();
    m.sessions_closed = sessions_closed.load();
    m.sessions_expired = sessions_expired.load();
    m.requests = requests.load();
    m.linear_calls = linear_calls.load();
    m.errors = errors.load();
    m.bytes_in = bytes_in.load();
    m.bytes_out = bytes_out.load();
    m.latency_seconds_sum = latency_sum.load();
    m.latency_seconds_max = latency_max.load();
    m.service_seconds_sum = service_sum.load();
    return m;
  }
};

Server::Server(hybrid::RemoteService& service, ServerConfig config)
    : impl_(std::make_unique<Impl>(service, std::move(config))) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  require(!s.started, ErrorCode::invalid_argument, "server: start() called twice");
  const bool tls = !s.config.tls_cert_path.empty() || !s.config.tls_key_path.empty();
  if (tls) {
    require(!s.config.tls_cert_path.empty() && !s.config.tls_key_path.empty(), ErrorCode::invalid_argument,
            "server: HTTPS needs both a certificate and a key file");
    auto https = std::make_unique<httplib::SSLServer>(s.config.tls_cert_path.c_str(), s.config.tls_key_path.c_str());
    require(https->is_valid(), ErrorCode::io_error,
            "server: cannot load TLS certificate '" + s.config.tls_cert_path + "' / key '" + s.config.tls_key_path +
                "'");
    s.http = std::move(https);
  } else {
    s.http = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *s.http;
  const int n_threads = std::max(2, s.config.n_connection_threads);
  http.new_task_queue = [n_threads] { return new httplib::ThreadPool(static_cast<std::size_t>(n_threads)); };
  http.set_keep_alive_max_count(1u << 20);
  http.set_keep_alive_timeout(s.config.keep_alive_timeout.count());
  http.set_payload_max_length(s.config.max_request_bytes);
  http.set_read_timeout(60, 0);
  http.set_write_timeout(60, 0);
  http.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second server bind
  // the same port and silently share its clients: only SO_REUSEADDR here.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  http.Post("/v1/message", [this](const httplib::Request& req, httplib::Response& res) {
    int status = 200;
    const ByteView body(reinterpret_cast<const std::uint8_t*>(req.body.data()), req.body.size());
    Bytes reply = impl_->handle(body, &status);
    res.status = status;
    res.set_content(std::string(reply.begin(), reply.end()), "application/octet-stream");
  });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\",\"sessions\":" + std::to_string(session_count()) + "}\n", "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
  // Errors raised by the HTTP layer itself (body over the limit, unknown
  // path) still answer a frame the client can decode.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) -> httplib::Server::HandlerResponse {
    if (req.path != "/v1/message" || !res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const ErrorCode code = res.status == 413 ? ErrorCode::message_too_large : ErrorCode::bad_message;
    const std::string what = res.status == 413
                                 ? "request body exceeds the server's limit of " +
                                       std::to_string(impl_->config.max_request_bytes) + " bytes"
                                 : "HTTP status " + std::to_string(res.status);
    impl_->errors.fetch_add(1);
    impl_->requests.fetch_add(1);
    Bytes reply = encode_frame({MessageType::error_reply, 0, 0}, encode_error_reply(code, what));
    res.set_content(std::string(reply.begin(), reply.end()), "application/octet-stream");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    Bytes reply = encode_frame({MessageType::error_reply, 0, 0},
                               encode_error_reply(ErrorCode::internal_error, "server: unexpected exception"));
    res.set_content(std::string(reply.begin(), reply.end()), "application/octet-stream");
  });

  if (s.config.port == 0) {
    s.bound_port = http.bind_to_any_port(s.config.host);
    require(s.bound_port > 0, ErrorCode::io_error, "server: cannot bind any port on '" + s.config.host + "'");
  } else {
    require(http.bind_to_port(s.config.host, s.config.port), ErrorCode::io_error,
            "server: cannot bind " + s.config.host + ":" + std::to_string(s.config.port) +
                " (in use, or not a local address)");
    s.bound_port = s.config.port;
  }
  s.started = true;
  s.listen_thread = std::thread([&http] { http.listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs: wait for it, so
  // that a stop() right after start() cannot be lost.
  for (int i = 0; i < 5000 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.expiry_thread = std::thread([&s] { s.expiry_loop(); });
}

int Server::port() const { return impl_->bound_port; }

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
  if (s.listen_thread.joinable()) s.listen_thread.join();
  if (s.expiry_thread.joinable()) s.expiry_thread.join();
  std::lock_guard lock(s.sessions_mutex);
  s.sessions.clear();
}

ServerMetrics Server::metrics() const { return impl_->snapshot(); }

std::size_t Server::session_count() const {
  std::lock_guard lock(impl_->sessions_mutex);
  return impl_->sessions.size();
}

Bytes Server::handle_frame(ByteView request, int* http_status) { return impl_->handle(request, http_status); }

std::string Server::metrics_text() const {
  const ServerMetrics m = metrics();
  std::ostringstream out;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value
        << '\n';
  };
  metric("fhellm_sessions_active", "gauge", "Open sessions.", m.sessions_active);
  metric("fhellm_sessions_opened_total", "counter", "Sessions opened.", m.sessions_opened);
  metric("fhellm_sessions_closed_total", "counter", "Sessions closed by their client.", m.sessions_closed);
  metric("fhellm_sessions_expired_total", "counter", "Sessions dropped after idling.", m.sessions_expired);
  metric("fhellm_requests_total", "counter", "Frames handled.", m.requests);
  metric("fhellm_linear_calls_total", "counter", "Linear calls evaluated.", m.linear_calls);
  metric("fhellm_errors_total", "counter", "Error replies sent.", m.errors);
  metric("fhellm_bytes_in_total", "counter", "Request bytes received.", m.bytes_in);
  metric("fhellm_bytes_out_total", "counter", "Reply bytes sent.", m.bytes_out);
  // A Prometheus summary: _sum and _count under one TYPE line (count: the
  // frames whose handling time the sum holds; refused bodies are not timed).
  out << "# HELP fhellm_request_latency_seconds Time spent handling frames.\n"
      << "# TYPE fhellm_request_latency_seconds summary\n"
      << "fhellm_request_latency_seconds_sum " << m.latency_seconds_sum << '\n'
      << "fhellm_request_latency_seconds_count " << impl_->latency_count.load() << '\n';
  metric("fhellm_request_latency_seconds_max", "gauge", "Longest frame handling time.", m.latency_seconds_max);
  metric("fhellm_service_seconds_sum", "counter", "Time spent evaluating linear calls.", m.service_seconds_sum);
  return out.str();
}

}  // namespace fhellm::net
