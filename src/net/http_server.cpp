#include "net/http_server.h"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fhellm/error.h"

namespace fhellm::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the server needs to close a connection from stop().
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void close_from_server() = 0;
  // Closes the socket on the calling thread: only once no I/O thread runs.
  virtual void close_now() = 0;
};

HttpReply internal_error_reply() {
  HttpReply r;
  r.status = 500;
  r.content_type = "text/plain";
  r.body = text_body("internal error\n");
  return r;
}

}  // namespace

struct HttpServer::Impl {
  HttpHandler& handler;
  HttpServerConfig config;

  // Declared before the I/O objects: connections deregister here when the
  // I/O context destroys them.
  std::mutex mutex;
  std::unordered_map<std::string, std::size_t> per_address;
  std::unordered_set<ConnectionBase*> live;
  std::atomic<std::uint64_t> open{0}, accepted{0}, refused{0}, timeouts{0};
  bool stopping = false;
  bool started = false;

  std::optional<asio::ssl::context> tls;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};
  std::optional<asio::thread_pool> workers;  // destroyed before ioc: its queued tasks hold sockets
  std::vector<std::thread> io_threads;

  Impl(HttpHandler& h, HttpServerConfig c) : handler(h), config(std::move(c)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  template <class Stream>
  void launch(Stream stream, std::string address);
  void forget(ConnectionBase* c, const std::string& address) {
    std::lock_guard lock(mutex);
    live.erase(c);
    if (auto it = per_address.find(address); it != per_address.end() && --it->second == 0) per_address.erase(it);
    open.fetch_sub(1);
  }
};

namespace {

template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(HttpServer::Impl& server, Stream stream, std::string address)
      : server_(server), stream_(std::move(stream)), address_(std::move(address)) {}
  ~Connection() override { server_.forget(this, address_); }

  void start() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      lowest().expires_after(server_.config.head_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->fail(ec);
                                self->read_head();
                              });
    } else {
      read_head();
    }
  }

  // Called with the server's registry locked: the object may be in its
  // destructor (waiting for that lock), hence the weak pointer.
  void close_from_server() override {
    if (auto self = this->weak_from_this().lock()) asio::post(stream_.get_executor(), [self] { self->close(); });
  }
  void close_now() override { close(); }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void close() {
    // A worker may be writing a reply on this socket (respond): the
    // descriptor must not be closed, and its number reused by another
    // client's connection, under that write.
    std::lock_guard lock(socket_mutex_);
    closed_ = true;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  void fail(beast::error_code ec) {
    if (ec == beast::error::timeout) server_.timeouts.fetch_add(1);
    close();
  }

  void read_head() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.config.max_head_bytes));
    // Unlimited while the head is read (Beast 1.74 compares a Content-Length
    // with boost::none as larger); on_head sets the admitted limit and checks
    // the Content-Length against it itself.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Room for a whole head in one read (a client's head can hold it that
    // long anyway), and with it the start of the body: a call of a few KB
    // then arrives in one read, not a 512-byte one and another.
    buffer_.reserve(std::min(server_.config.max_head_bytes, kReadBufferBytes));
    lowest().expires_after(server_.config.head_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_head(ec);
                            });
  }

  void on_head(beast::error_code ec) {
    if (ec) return fail(ec);
    const auto& req = parser_->get();
    head_ = HttpHead{};
    head_.method = std::string(req.method_string());
    head_.target = std::string(req.target());
    if (auto length = parser_->content_length()) head_.content_length = *length;
    head_.chunked = parser_->chunked();
    if (auto it = req.find(http::field::authorization); it != req.end()) head_.authorization = std::string(it->value());
    head_.remote_address = address_;
    keep_alive_ = req.keep_alive();
    Admission a;
    try {
      a = server_.handler.admit(head_);
    } catch (...) {
      a.reply_now = internal_error_reply();
    }
    ticket_ = std::move(a.ticket);
    const bool body_pending = !parser_->is_done();
    if (a.reply_now) return write(std::move(*a.reply_now), keep_alive_ && !body_pending);
    if (head_.content_length && *head_.content_length > a.body_limit)
      return write(server_.handler.body_too_large(head_, a.body_limit), false);  // nothing read
    limit_ = a.body_limit;
    parser_->body_limit(a.body_limit);
    // Beast reads max(512, free capacity) bytes at a time: with the buffer
    // left at its first 512 bytes, a 1 MB body took 2048 reads (each with
    // its epoll_wait and timer re-arm: 65 ms per MB on loopback). Room for
    // whole reads while the body arrives, given back once it has.
    buffer_.reserve(kReadBufferBytes);
    lowest().expires_after(server_.config.body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code e, std::size_t) {
      self->on_body(e);
    });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) return write(server_.handler.body_too_large(head_, limit_), false);
    if (ec) return fail(ec);
    lowest().expires_never();  // the work has no deadline; the write gets one
    keep_alive_ = parser_->get().keep_alive();
    std::string body = std::move(parser_->get().body());
    parser_.reset();
    buffer_.shrink_to_fit();  // the 64 KB go; read_head takes a head's room again
    asio::post(*server_.workers, [self = this->shared_from_this(), body = std::move(body)]() mutable {
      HttpReply reply;
      try {
        reply = self->server_.handler.handle(self->head_, std::move(body), self->ticket_);
      } catch (...) {
        reply = internal_error_reply();
      }
      self->respond(std::move(reply));
    });
  }

  using Response = http::response<http::vector_body<std::uint8_t>>;
  using Serializer = http::response_serializer<http::vector_body<std::uint8_t>>;

  static std::shared_ptr<Response> make_response(HttpReply reply, bool keep_alive) {
    auto res = std::make_shared<Response>(static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, "fhellm");
    res->set(http::field::content_type, reply.content_type);
    if (reply.retry_after_seconds > 0) res->set(http::field::retry_after, std::to_string(reply.retry_after_seconds));
    res->body() = std::move(reply.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    return res;
  }

  // On the worker thread, with the handler's reply. Over plain TCP the worker
  // writes what the socket takes at once itself (never waiting: the socket is
  // non-blocking), so the client has its reply without waiting for the I/O
  // thread to wake (one thread hand-off, 30-80 us on a 2-core VM, of about
  // four per call); the I/O thread writes the rest, if any, under
  // write_timeout, then reads the next request. Over TLS the I/O thread
  // writes it all (the TLS stream is not shared between threads).
  void respond(HttpReply reply) {
    if constexpr (std::is_same_v<Stream, PlainStream>) {
      auto res = make_response(std::move(reply), keep_alive_);
      auto sr = std::make_shared<Serializer>(*res);
      beast::error_code ec = asio::error::operation_aborted;
      {
        std::lock_guard lock(socket_mutex_);
        if (!closed_) {
          ec = {};
          while (!ec && !sr->is_done()) http::write_some(lowest().socket(), *sr, ec);
        }
      }
      asio::post(stream_.get_executor(), [self = this->shared_from_this(), res, sr, ec] {
        self->finish_response(res, sr, ec);
      });
    } else {
      asio::post(stream_.get_executor(), [self = this->shared_from_this(), reply = std::move(reply)]() mutable {
        self->write(std::move(reply), self->keep_alive_);
      });
    }
  }

  // On the I/O thread: the rest of a reply a worker began to write.
  void finish_response(std::shared_ptr<Response> res, std::shared_ptr<Serializer> sr, beast::error_code ec) {
    if (ec != asio::error::would_block && ec != asio::error::try_again) return after_write(ec, res->keep_alive());
    lowest().expires_after(server_.config.write_timeout);
    http::async_write(stream_, *sr, [self = this->shared_from_this(), res, sr](beast::error_code e, std::size_t) {
      self->after_write(e, res->keep_alive());
    });
  }

  void write(HttpReply reply, bool keep_alive) {
    auto res = make_response(std::move(reply), keep_alive);
    lowest().expires_after(server_.config.write_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->after_write(ec, res->keep_alive());
    });
  }

  void after_write(beast::error_code ec, bool keep_alive) {
    ticket_.reset();
    if (ec) return fail(ec);
    if (!keep_alive) return linger_close();
    read_head();
  }

  // Closing a socket with unread bytes makes the kernel send a reset, which
  // can destroy the reply just written; and a client that writes its whole
  // body before it reads (cpp-httplib) would see "connection reset", not the
  // refusal. So: stop sending, read and drop (never store) what still comes
  // for at most kLingerTime, then close.
  static constexpr auto kLingerTime = std::chrono::seconds(2);
  void linger_close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    lowest().expires_after(kLingerTime);
    drain();
  }
  void drain() {
    lowest().async_read_some(asio::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec,
                                                                                       std::size_t n) {
      if (ec) return self->close();
      self->drain();
    });
  }

  HttpServer::Impl& server_;
  Stream stream_;
  std::string address_;
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;  // the most one read takes in
  beast::flat_buffer buffer_{kReadBufferBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpHead head_;
  std::shared_ptr<void> ticket_;
  std::uint64_t limit_ = 0;
  bool keep_alive_ = true;
  std::array<char, 4096> discard_;
  std::mutex socket_mutex_;  // close() against a worker's write (respond)
  bool closed_ = false;      // guarded by socket_mutex_
};

}  // namespace

template <class Stream>
void HttpServer::Impl::launch(Stream stream, std::string address) {
  auto c = std::make_shared<Connection<Stream>>(*this, std::move(stream), address);
  {
    std::lock_guard lock(mutex);
    live.insert(c.get());
  }
  c->start();
}

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [this](beast::error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors or the like: try again shortly rather than spin.
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](beast::error_code e) {
      if (!e) do_accept();
    });
    return;
  }
  beast::error_code addr_ec;
  const std::string address = socket.remote_endpoint(addr_ec).address().to_string();
  bool admitted = false;
  {
    std::lock_guard lock(mutex);
    std::size_t& from = per_address[address];
    admitted = !stopping && open.load() < config.max_connections && from < config.max_connections_per_address;
    if (admitted) {
      ++from;
      open.fetch_add(1);
    } else if (from == 0) {
      per_address.erase(address);
    }
  }
  if (!admitted) {
    refused.fetch_add(1);
    socket.close(addr_ec);
  } else {
    accepted.fetch_add(1);
    socket.set_option(tcp::no_delay(true), addr_ec);
    // A worker's write (Connection::respond) takes what the socket takes now, never waits.
    socket.non_blocking(true, addr_ec);
    if (tls) {
      launch(TlsStream(beast::tcp_stream(std::move(socket)), *tls), address);
    } else {
      launch(PlainStream(std::move(socket)), address);
    }
  }
  do_accept();
}

HttpServer::HttpServer(HttpHandler& handler, HttpServerConfig config)
    : impl_(std::make_shared<Impl>(handler, std::move(config))) {}

HttpServer::~HttpServer() { stop(); }

namespace {

tcp::endpoint resolve_endpoint(asio::io_context& ioc, const std::string& host, int port) {
  beast::error_code ec;
  const std::string h = host == "localhost" ? "127.0.0.1" : host;
  const auto address = asio::ip::make_address(h, ec);
  require(!ec, ErrorCode::invalid_argument, "server: '" + host + "' is not an IP address (or localhost)");
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

void HttpServer::start() {
  Impl& s = *impl_;
  require(!s.started, ErrorCode::invalid_argument, "server: start() called twice");
  require(s.config.port >= 0 && s.config.port <= 65535, ErrorCode::invalid_argument, "server: bad port");
  const bool tls = !s.config.tls_cert_path.empty() || !s.config.tls_key_path.empty();
  if (tls) {
    require(!s.config.tls_cert_path.empty() && !s.config.tls_key_path.empty(), ErrorCode::invalid_argument,
            "server: HTTPS needs both a certificate and a key file");
    s.tls.emplace(asio::ssl::context::tls_server);
    beast::error_code ec;
    s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    s.tls->use_certificate_chain_file(s.config.tls_cert_path, ec);
    if (!ec) s.tls->use_private_key_file(s.config.tls_key_path, asio::ssl::context::pem, ec);
    require(!ec, ErrorCode::io_error,
            "server: cannot load TLS certificate '" + s.config.tls_cert_path + "' / key '" + s.config.tls_key_path +
                "': " + ec.message());
  }
  const tcp::endpoint endpoint = resolve_endpoint(s.ioc, s.config.host, s.config.port);
  beast::error_code ec;
  s.acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR only (never SO_REUSEPORT, which would let a second server
  // share the port and its clients silently).
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  require(!ec, ErrorCode::io_error,
          "server: cannot bind " + s.config.host + ":" + std::to_string(s.config.port) + " (" + ec.message() + ")");
  s.started = true;
  s.workers.emplace(static_cast<std::size_t>(std::max(1, s.config.worker_threads)));
  s.do_accept();
  for (int i = 0; i < std::max(1, s.config.io_threads); ++i) s.io_threads.emplace_back([&s] { s.ioc.run(); });
}

int HttpServer::port() const noexcept {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping || !s.started) {
      s.stopping = true;
      return;
    }
    s.stopping = true;
  }
  // Close the listener and every connection on the I/O threads, and wait (bounded) for that.
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  asio::post(s.ioc, [&s, closed] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
    std::lock_guard lock(s.mutex);
    for (ConnectionBase* c : s.live) c->close_from_server();
    closed->set_value();
  });
  done.wait_for(std::chrono::seconds(2));
  // Queued work is dropped; running handlers return (their replies go nowhere).
  s.workers->stop();
  s.workers->join();
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  // The closes posted above may not have run before the context stopped (the
  // 2 s wait ends when they are queued, and a stopped context runs nothing):
  // a connection the queued handlers still own would keep its socket open and
  // a client's next request would wait for its own timeout. No I/O thread
  // runs now, so close what is left here.
  std::lock_guard lock(s.mutex);
  for (ConnectionBase* c : s.live) c->close_now();
}

HttpServerCounters HttpServer::counters() const {
  HttpServerCounters c;
  c.connections_open = impl_->open.load();
  c.connections_accepted = impl_->accepted.load();
  c.connections_refused = impl_->refused.load();
  c.timeouts = impl_->timeouts.load();
  return c;
}

}  // namespace fhellm::net
