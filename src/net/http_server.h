// An HTTP/1.1 server (keep-alive; HTTPS with a certificate) whose every cost
// is bounded before it is paid, built on Boost.Beast (asynchronous I/O: a
// slow or silent client holds a socket and a read buffer of max_head_bytes,
// never a thread).
//
// Per request, in order:
//   1. the head (request line and headers, <= max_head_bytes, read with
//      what follows of the body into a buffer of that size) must arrive
//      within head_timeout of the connection being ready for it (this is
//      also how long an idle keep-alive connection is kept);
//   2. HttpHandler::admit sees the head, before any body byte is read, and
//      either answers at once (refusals, GETs) or sets the body's byte limit
//      (Content-Length over it: refused without reading; a chunked body is
//      cut at the limit) and may attach a ticket (reserved memory, the
//      caller's key) that lives until the reply is written;
//   3. the body must arrive within body_timeout (read 64 KB at a time into a
//      buffer the connection holds only while a body arrives);
//   4. HttpHandler::handle runs on a pool of `worker_threads` threads (the
//      I/O threads never do the work). Over plain TCP the worker then writes
//      what the socket takes at once, never waiting (one thread hand-off less
//      per request); the I/O thread writes the rest, if any, within
//      write_timeout (over TLS, the whole reply).
// A refused request whose body was not read closes its connection. At most
// max_connections sockets are open at once, and max_connections_per_address
// from one peer address; more are closed on accept. stop() closes every
// socket and returns once the running handlers return, whatever the clients do.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace fhellm::net {

struct HttpHead {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/message"
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  std::string authorization;   // the Authorization header, as sent
  std::string remote_address;  // the peer's IP address
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/octet-stream";
  Bytes body;  // a frame is moved in and written from here, never copied
  int retry_after_seconds = 0;  // > 0: a Retry-After header
};

// `text` as a reply body.
inline Bytes text_body(std::string_view text) { return Bytes(text.begin(), text.end()); }

struct Admission {
  std::optional<HttpReply> reply_now;  // set: answer this, read no body
  std::uint64_t body_limit = 0;        // otherwise: the most body bytes accepted
  std::shared_ptr<void> ticket;        // kept until the reply is written
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called on an I/O thread: must be cheap and must not block.
  virtual Admission admit(const HttpHead& head) = 0;
  // Called on a worker thread with the whole body.
  virtual HttpReply handle(const HttpHead& head, std::string body, std::shared_ptr<void> ticket) = 0;
  // The body passed its limit while arriving (a chunked body): the reply sent
  // before the connection closes.
  virtual HttpReply body_too_large(const HttpHead& head, std::uint64_t limit) = 0;
};

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  int io_threads = 1;
  int worker_threads = 2;
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 32;
  std::size_t max_head_bytes = 16 * 1024;
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};
  std::string tls_cert_path, tls_key_path;  // both set: HTTPS
};

struct HttpServerCounters {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over a connection cap
  std::uint64_t timeouts = 0;             // connections closed for a deadline
};

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(HttpHandler& handler, HttpServerConfig config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads.
  // @throws Error(io_error) when the address cannot be bound or the TLS files
  //         cannot be loaded; Error(invalid_argument) for a bad host.
  void start();
  int port() const noexcept;
  // Closes every connection, waits for running handlers. Idempotent.
  void stop();
  HttpServerCounters counters() const;

  struct Impl;  // http_server.cpp (public so that its connection classes can name it)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fhellm::net
