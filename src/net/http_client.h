// One keep-alive HTTP/1.1 connection from a client to a server (http:// or
// https://), for the client transport (http_channel.h): POST a body, read the
// reply, each step under a deadline. Built on Boost.Beast, as the server is:
// a request leaves in one write (head and body together, so the server wakes
// once for it), and its reply is read 64 KB at a time straight into one
// buffer, never past a limit (docs/linear.md section 7, "Per-call overhead").
//
// Connects on first use and again whenever the connection was closed (by the
// server after its keep-alive time, or after a failed exchange). Not
// thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/bytes.h"

namespace fhellm::net {

struct HttpClientConfig {
  std::string url;  // "http://HOST[:PORT]" or "https://HOST[:PORT]"
  std::chrono::milliseconds connect_timeout{5000};  // the TCP connect, and the TLS handshake
  std::string ca_cert_path;       // HTTPS: CA file to trust (default: the system's)
  bool verify_certificate = true;  // HTTPS: the chain and the host name
  std::string bearer_token;        // sent as "Authorization: Bearer TOKEN" when not empty
};

struct HttpResponse {
  int status = 0;
  int retry_after_seconds = 0;  // the Retry-After header in 0..3600; 0: none
  Bytes body;
};

// How the last exchange failed.
enum class HttpFailure {
  none,
  unreachable,  // refused, reset, closed, a garbled reply: the server is going or coming back
  timed_out,    // nothing for the whole timeout (connect, or a read or write)
  tls,          // the certificate did not verify, or the CA file could not be loaded
  too_large,    // the reply's body passed the caller's limit
};

// @throws Error(invalid_argument) unless `url` is scheme://HOST[:PORT] with
// scheme http or https and no path ("http://h:1/" is "http://h:1").
void check_server_url(const std::string& url);

class HttpClient {
 public:
  // @throws Error(invalid_argument) for a bad URL (check_server_url).
  explicit HttpClient(HttpClientConfig config);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `target` ("/v1/message") and returns the reply, whatever
  // its status. Connects first when there is no live connection. The write
  // and the read each have `io_timeout`.
  // @throws Error(server_unavailable) with failure() unreachable, timed_out or
  //         tls; Error(message_too_large) when the reply's body passes
  //         `max_body_bytes` (failure() too_large; nothing past it is read).
  HttpResponse post(const std::string& target, ByteView body, const std::string& content_type,
                    std::uint64_t max_body_bytes, std::chrono::milliseconds io_timeout);

  HttpFailure failure() const noexcept;  // of the last post
  const std::string& url() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fhellm::net
