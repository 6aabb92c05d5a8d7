#include "net/http_client.h"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "fhellm/error.h"

namespace fhellm::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using RequestBody = http::span_body<const std::uint8_t>;
using ResponseBody = http::vector_body<std::uint8_t>;

constexpr std::size_t kReadBufferBytes = 64 * 1024;  // the most one read takes in
constexpr std::uint32_t kMaxHeadBytes = 64 * 1024;

// "http://host:port/" names the same server as "http://host:port".
std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

struct ServerAddress {
  bool tls = false;
  std::string host;         // "127.0.0.1", "example.org", "::1"
  std::string port;         // "8600"
  std::string host_header;  // HOST[:PORT] as the URL wrote it
};

ServerAddress parse_server_url(const std::string& given) {
  const std::string url = without_trailing_slashes(given);
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  require(http || https, ErrorCode::invalid_argument,
          "server URL '" + given + "' must start with http:// or https://");
  ServerAddress a;
  a.tls = https;
  a.host_header = url.substr(http ? 7 : 8);
  const std::string& rest = a.host_header;
  require(!rest.empty() && rest.find('/') == std::string::npos, ErrorCode::invalid_argument,
          "server URL '" + given + "' must be scheme://HOST[:PORT] with no path");
  const std::size_t bracket = rest.rfind(']');
  const std::size_t colon = rest.rfind(':');
  const bool has_port = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  a.host = has_port ? rest.substr(0, colon) : rest;
  a.port = has_port ? rest.substr(colon + 1) : (https ? "443" : "80");
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  const bool digits = !a.port.empty() && a.port.size() <= 5 &&
                      std::all_of(a.port.begin(), a.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  require(!a.host.empty() && digits && std::stoi(a.port) <= 65535, ErrorCode::invalid_argument,
          "server URL '" + given + "' must be scheme://HOST[:PORT] with a port in 0..65535");
  return a;
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

void check_server_url(const std::string& url) { parse_server_url(url); }

struct HttpClient::Impl {
  HttpClientConfig config;
  ServerAddress address;
  asio::io_context ioc;
  std::optional<asio::ssl::context> tls_context;  // loaded on the first connect
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer{kReadBufferBytes};
  HttpFailure failure = HttpFailure::none;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs one asynchronous operation to its end (its stream's deadline bounds it).
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  [[noreturn]] void fail(HttpFailure how, const std::string& what) {
    failure = how;
    disconnect();
    if (how == HttpFailure::too_large) throw Error(ErrorCode::message_too_large, "server " + config.url + " " + what);
    throw Error(ErrorCode::server_unavailable, "server " + config.url + " did not answer: " + what);
  }
  [[noreturn]] void fail(const beast::error_code& ec, const std::string& step) {
    fail(ec == beast::error::timeout ? HttpFailure::timed_out : HttpFailure::unreachable,
         step + (ec == beast::error::timeout ? " timed out" : ": " + ec.message()));
  }

  void disconnect() {
    if (connected()) {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest().close();
    }
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Whether the kept connection can carry a request: nothing to read, or (TLS)
  // only records the server sent after the handshake; not a closed one.
  bool alive() {
    const int fd = lowest().socket().native_handle();
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 0);
    if (ready == 0) return true;
    if (ready < 0 || !secure) return false;
    char c = 0;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  void load_tls_context() {
    if (tls_context) return;
    asio::ssl::context context(asio::ssl::context::tls_client);
    beast::error_code ec;
    if (config.ca_cert_path.empty()) {
      context.set_default_verify_paths(ec);
    } else {
      context.load_verify_file(config.ca_cert_path, ec);
    }
    if (ec) fail(HttpFailure::tls, "cannot load the CA certificates '" + config.ca_cert_path + "': " + ec.message());
    tls_context.emplace(std::move(context));
  }

  void connect() {
    if (address.tls) load_tls_context();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(address.host, address.port, ec);
    if (ec) fail(HttpFailure::unreachable, "cannot resolve '" + address.host + "': " + ec.message());
    beast::tcp_stream stream(ioc);
    stream.expires_after(config.connect_timeout);
    ec = run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      stream.close();
      fail(ec, "connect");
    }
    stream.socket().set_option(tcp::no_delay(true), ec);
    if (!address.tls) {
      plain.emplace(std::move(stream));
      return;
    }
    secure.emplace(std::move(stream), *tls_context);
    if (!is_ip_address(address.host)) SSL_set_tlsext_host_name(secure->native_handle(), address.host.c_str());
    if (config.verify_certificate) {
      secure->set_verify_mode(asio::ssl::verify_peer);
      secure->set_verify_callback(asio::ssl::host_name_verification(address.host));
    } else {
      secure->set_verify_mode(asio::ssl::verify_none);
    }
    lowest().expires_after(config.connect_timeout);
    ec = run([&](auto handler) { secure->async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
    if (ec && ec != beast::error::timeout && SSL_get_verify_result(secure->native_handle()) != X509_V_OK) {
      fail(HttpFailure::tls, "its certificate did not verify (" + ec.message() + ")");
    }
    if (ec) fail(ec, "TLS handshake");
  }

  template <class Message>
  beast::error_code write(Message& message) {
    if (secure) return run([&](auto handler) { http::async_write(*secure, message, std::move(handler)); });
    return run([&](auto handler) { http::async_write(*plain, message, std::move(handler)); });
  }
  template <class Parser>
  beast::error_code read_header(Parser& parser) {
    if (secure) return run([&](auto handler) { http::async_read_header(*secure, buffer, parser, std::move(handler)); });
    return run([&](auto handler) { http::async_read_header(*plain, buffer, parser, std::move(handler)); });
  }
  template <class Parser>
  beast::error_code read(Parser& parser) {
    if (secure) return run([&](auto handler) { http::async_read(*secure, buffer, parser, std::move(handler)); });
    return run([&](auto handler) { http::async_read(*plain, buffer, parser, std::move(handler)); });
  }
};

HttpClient::HttpClient(HttpClientConfig config) : impl_(std::make_unique<Impl>()) {
  config.url = without_trailing_slashes(config.url);
  impl_->address = parse_server_url(config.url);
  impl_->config = std::move(config);
}

HttpClient::~HttpClient() { impl_->disconnect(); }

HttpResponse HttpClient::post(const std::string& target, ByteView body, const std::string& content_type,
                              std::uint64_t max_body_bytes, std::chrono::milliseconds io_timeout) {
  Impl& s = *impl_;
  s.failure = HttpFailure::none;
  if (s.connected() && !s.alive()) s.disconnect();
  if (!s.connected()) s.connect();
  http::request<RequestBody> request{http::verb::post, target, 11};
  request.set(http::field::host, s.address.host_header);
  request.set(http::field::content_type, content_type);
  if (!s.config.bearer_token.empty()) request.set(http::field::authorization, "Bearer " + s.config.bearer_token);
  request.body() = RequestBody::value_type(body.data(), body.size());  // a view: the body is not copied
  request.prepare_payload();
  s.lowest().expires_after(io_timeout);
  if (const beast::error_code ec = s.write(request)) s.fail(ec, "sending the request");
  http::response_parser<ResponseBody> parser;
  parser.header_limit(kMaxHeadBytes);
  parser.body_limit(max_body_bytes);
  s.buffer.reserve(kReadBufferBytes);  // reads of 64 KB, not of 512 bytes
  s.lowest().expires_after(io_timeout);
  // The head first: Beast 1.74 loses the body_limit error of a Content-Length
  // when the body arrived in the same read, so the length is checked here.
  beast::error_code ec = s.read_header(parser);
  const bool too_large = !ec && parser.content_length().value_or(0) > max_body_bytes;
  if (!ec && !too_large) ec = s.read(parser);
  if (too_large || ec == http::error::body_limit) {
    s.fail(HttpFailure::too_large, "sent a reply over the limit of " + std::to_string(max_body_bytes) + " bytes");
  }
  if (ec) s.fail(ec, "reading the reply");
  s.lowest().expires_never();
  HttpResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  if (const auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
    const std::string value(it->value());
    const bool digits = !value.empty() && value.size() <= 9 &&
                        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    response.retry_after_seconds = digits ? std::min(std::stoi(value), 3600) : 0;
  }
  if (!parser.keep_alive()) s.disconnect();
  response.body = std::move(parser.get().body());
  return response;
}

HttpFailure HttpClient::failure() const noexcept { return impl_->failure; }

const std::string& HttpClient::url() const noexcept { return impl_->config.url; }

}  // namespace fhellm::net
