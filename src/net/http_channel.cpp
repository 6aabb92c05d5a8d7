#include "net/http_channel.h"

#include <httplib.h>

#include <algorithm>
#include <thread>

#include "net/http_client.h"

namespace fhellm::net {

namespace {

using Clock = std::chrono::steady_clock;

// "http://host:port/" names the same server as "http://host:port".
std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

struct HttpChannel::Impl {
  ChannelConfig config;
  std::unique_ptr<HttpClient> http;
  std::chrono::milliseconds timeout{};  // of the next exchange: io_timeout, or close_timeout for the close
  // How the last exchange ended: a transient failure (refused, reset) may be
  // retried; a timeout may not (the server was silent for io_timeout).
  bool last_transient = false;
  bool last_timed_out = false;
  int last_retry_after = 0;
};

HttpChannel::HttpChannel(ChannelConfig config) : impl_(std::make_unique<Impl>()) {
  config.url = without_trailing_slashes(config.url);
  HttpClientConfig c;
  c.url = config.url;
  c.connect_timeout = config.connect_timeout;
  c.ca_cert_path = config.ca_cert_path;
  c.verify_certificate = config.verify_certificate;
  c.bearer_token = config.api_key;
  impl_->http = std::make_unique<HttpClient>(std::move(c));
  impl_->timeout = config.io_timeout;
  impl_->config = std::move(config);
}

HttpChannel::~HttpChannel() { close(); }

Bytes HttpChannel::exchange(ByteView request, int* http_status, int* retry_after) {
  Impl& s = *impl_;
  s.last_transient = s.last_timed_out = false;
  s.last_retry_after = 0;
  HttpResponse response;
  try {
    response = s.http->post("/v1/message", request, "application/octet-stream",
                            std::uint64_t{s.config.max_reply_bytes} + kHeaderBytes, s.timeout);
  } catch (const Error&) {
    // A connect, read or write that lasted its whole timeout is a silent
    // server; a quicker failure (refused, reset, closed) is a server going or
    // coming back; a certificate that does not verify stays so.
    s.last_timed_out = s.http->failure() == HttpFailure::timed_out;
    s.last_transient = s.http->failure() == HttpFailure::unreachable;
    throw;
  }
  s.last_retry_after = response.retry_after_seconds;
  if (http_status != nullptr) *http_status = response.status;
  if (retry_after != nullptr) *retry_after = s.last_retry_after;
  return std::move(response.body);
}

Bytes HttpChannel::request(MessageType type, ByteView payload, MessageType expected, std::uint64_t* server_ns) {
  const MessageHeader header{type, session_id_, next_sequence_++};
  const Bytes frame_bytes = encode_frame(header, payload);
  int status = 0;
  Bytes reply_bytes = exchange(frame_bytes, &status);
  const std::uint64_t up = frame_bytes.size();
  const std::uint64_t down = reply_bytes.size();
  if (type == MessageType::linear_call) {
    stats_.bytes_up += up;
    stats_.bytes_down += down;
  } else if (type == MessageType::open_session) {
    stats_.session_bytes_up += up;
    stats_.session_bytes_down += down;
  }
  Frame reply;
  try {
    reply = decode_frame(reply_bytes, impl_->config.max_reply_bytes);
  } catch (const Error& e) {
    // A load balancer's own answer: the replica behind it died in the middle
    // of the exchange (502), none is up yet (503), or it was too slow (504).
    // The next try may reach another replica: transient, as a reset is.
    if (status == 502 || status == 503 || status == 504) {
      impl_->last_transient = true;
      throw Error(ErrorCode::server_unavailable, "server " + impl_->config.url + " answered HTTP " +
                                                     std::to_string(status) + " without a frame (a proxy whose "
                                                     "server is gone or not up)");
    }
    throw Error(ErrorCode::bad_message, "server " + impl_->config.url + " answered HTTP " + std::to_string(status) +
                                            " with no valid frame (" + e.what() + ")");
  }
  if (reply.header.type == MessageType::error_reply) {
    const ErrorReply error = decode_error_reply(reply.payload);
    throw Error(error.code, "server: " + error.message);
  }
  require(reply.header.type == expected, ErrorCode::bad_message,
          std::string("server answered ") + message_type_name(reply.header.type) + " to " + message_type_name(type));
  require(reply.header.sequence == header.sequence, ErrorCode::bad_message,
          "server reply carries sequence " + std::to_string(reply.header.sequence) + ", request had " +
              std::to_string(header.sequence));
  require(type == MessageType::open_session || reply.header.session_id == session_id_, ErrorCode::bad_message,
          "server reply names another session");
  if (type == MessageType::open_session) session_id_ = reply.header.session_id;
  Bytes out;
  if (expected == MessageType::open_session_reply) {
    const OpenSessionReply m = decode_open_session_reply(reply.payload);
    if (server_ns != nullptr) *server_ns = m.server_ns;
    out.assign(m.description.begin(), m.description.end());
  } else if (expected == MessageType::linear_call_reply) {
    const LinearCallReply m = decode_linear_call_reply(reply.payload);
    if (server_ns != nullptr) *server_ns = m.server_ns;
    // The results are the reply's tail: moved to the front in place, not
    // copied into a new buffer (fresh pages cost a fault each).
    const auto offset = static_cast<std::size_t>(m.results.data() - reply_bytes.data());
    const std::size_t length = m.results.size();
    out = std::move(reply_bytes);
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(offset));
    out.resize(length);
  } else {
    decode_empty(reply.payload, reply.header.type);
  }
  return out;
}

Bytes HttpChannel::request_with_retries(MessageType type, ByteView payload, MessageType expected,
                                        std::uint64_t* server_ns, bool reopen) {
  const RetryPolicy& policy = impl_->config.retry;
  auto waited = std::chrono::milliseconds(0);
  auto next_wait = policy.first_wait;
  bool reopened = false;
  for (int attempt = 1;; ++attempt) {
    try {
      return request(type, payload, expected, server_ns);
    } catch (const Error& e) {
      const bool busy = e.code() == ErrorCode::server_busy || e.code() == ErrorCode::rate_limited;
      const bool gone = e.code() == ErrorCode::server_unavailable && impl_->last_transient;
      // The server forgot the session (restart, expiry): a new one, once per exchange.
      if (e.code() == ErrorCode::unknown_session && reopen && impl_->config.reopen_session && !reopened &&
          !keys_.empty()) {
        reopened = true;
        session_id_ = 0;
        open_new_session();
        continue;
      }
      if (!(busy || gone) || attempt >= policy.attempts) throw;
      auto wait = impl_->last_retry_after > 0 ? std::chrono::milliseconds(1000 * impl_->last_retry_after) : next_wait;
      wait = std::min(wait, policy.max_wait - waited);
      if (wait.count() <= 0) throw;
      std::this_thread::sleep_for(wait);
      waited += wait;
      next_wait *= 2;
      retries_ += 1;
    }
  }
}

Bytes HttpChannel::open_new_session() {
  next_sequence_ = 1;
  const std::shared_ptr<const Bytes>& known = impl_->config.known_description;
  std::optional<DescriptionDigest> digest;
  if (known) digest = description_digest(*known);
  Bytes d = request_with_retries(MessageType::open_session, encode_open_session(keys_, digest),
                                 MessageType::open_session_reply, nullptr, false);
  if (d.empty()) {
    require(known != nullptr, ErrorCode::bad_message,
            "server " + impl_->config.url + " answered open_session with no model description");
    d = *known;  // the server serves the description this client holds
  }
  sessions_opened_ += 1;
  if (sessions_opened_ > 1) {
    require(d == description_, ErrorCode::bad_artifact,
            "server " + impl_->config.url + " came back with another model than the session began with");
  }
  description_ = d;
  return d;
}

Bytes HttpChannel::open_session(ByteView evaluation_keys) {
  require(session_id_ == 0, ErrorCode::invalid_argument, "channel already holds a session");
  keys_.assign(evaluation_keys.begin(), evaluation_keys.end());
  sessions_opened_ = 0;
  return open_new_session();
}

Bytes HttpChannel::call(std::span<const std::uint32_t> layer_ids, ByteView payload) {
  require(session_id_ != 0, ErrorCode::unknown_session, "call before open_session");
  const auto start = Clock::now();
  std::uint64_t server_ns = 0;
  Bytes reply = request_with_retries(MessageType::linear_call, encode_linear_call(layer_ids, payload),
                                     MessageType::linear_call_reply, &server_ns, true);
  const std::chrono::duration<double> total = Clock::now() - start;
  const double server = static_cast<double>(server_ns) * 1e-9;
  stats_.n_calls += 1;
  stats_.server_seconds += server;
  stats_.network_seconds += std::max(0.0, total.count() - server);
  return reply;
}

void HttpChannel::close() noexcept {
  if (session_id_ == 0) return;
  // A server that just let an exchange time out gets no second wait.
  if (!impl_->last_timed_out) {
    impl_->timeout = impl_->config.close_timeout;
    try {
      request(MessageType::close_session, {}, MessageType::close_session_reply, nullptr);
    } catch (...) {
      // Best effort: the server expires the session anyway.
    }
    impl_->timeout = impl_->config.io_timeout;
  }
  session_id_ = 0;
}

hybrid::ChannelStats HttpChannel::stats() const { return stats_; }

std::string http_get(const std::string& url, const std::string& path, std::chrono::milliseconds timeout,
                     const std::string& api_key) {
  check_server_url(url);
  httplib::Client client(without_trailing_slashes(url));
  require(client.is_valid(), ErrorCode::invalid_argument, "server URL '" + url + "' is not usable");
  const auto sec = static_cast<time_t>(timeout.count() / 1000);
  const auto usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_keep_alive(false);
  if (!api_key.empty()) client.set_bearer_token_auth(api_key.c_str());
  if (url.rfind("https://", 0) == 0) client.enable_server_certificate_verification(false);
  auto result = client.Get(path.c_str());
  if (!result) {
    throw Error(ErrorCode::server_unavailable,
                "server " + url + " did not answer GET " + path + ": " + httplib::to_string(result.error()));
  }
  require(result->status == 200, ErrorCode::server_unavailable,
          "server " + url + " answered GET " + path + " with HTTP " + std::to_string(result->status));
  return result->body;
}

}  // namespace fhellm::net
