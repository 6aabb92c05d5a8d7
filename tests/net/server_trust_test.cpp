// The server's trust boundary: keys, budgets, bounds before work, slow and
// hostile connections, sequence numbers, restarts. Each test names the
// defect it guards against (issue 11).
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <sstream>
#include <thread>

#include "net/http_channel.h"
#include "net/server.h"
#include "net/raw_socket.h"
#include "net/test_service.h"

namespace fhellm::net {
namespace {

using fhellm::testing::ArithmeticService;
using fhellm::testing::RawSocket;
using namespace std::chrono_literals;

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no fhellm::Error thrown";
  return ErrorCode::internal_error;
}

ErrorCode reply_code(const Bytes& reply) {
  const Frame f = decode_frame(reply);
  EXPECT_EQ(f.header.type, MessageType::error_reply);
  return f.header.type == MessageType::error_reply ? decode_error_reply(f.payload).code : ErrorCode::internal_error;
}

// The HTTP status and body of a raw response.
std::pair<int, std::string> parse_response(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0) return {0, ""};
  const auto end = raw.find("\r\n\r\n");
  return {std::stoi(raw.substr(9, 3)), end == std::string::npos ? "" : raw.substr(end + 4)};
}

class TrustTest : public ::testing::Test {
 protected:
  void start(ServerConfig config = {}) {
    config.host = "127.0.0.1";
    config.port = 0;
    server_ = std::make_unique<Server>(service_, config);
    server_->start();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  ChannelConfig channel(const std::string& key = {}) const {
    ChannelConfig c;
    c.url = url_;
    c.connect_timeout = 2s;
    c.io_timeout = 10s;
    c.api_key = key;
    c.retry.attempts = 1;  // these tests see every refusal
    return c;
  }
  void expect_healthy(const std::string& key = {}) {
    HttpChannel ch(channel(key));
    ch.open_session(ArithmeticService::key_bytes(3));
    const std::uint32_t ids[] = {1};
    EXPECT_EQ(ch.call(ids, Bytes{1}), (Bytes{5}));
  }
  ArithmeticService service_;
  std::unique_ptr<Server> server_;
  std::string url_;
};

ServerConfig with_keys(ApiKeyStore& store, std::string* alice, std::string* bob, KeyLimits alice_limits = {}) {
  *alice = store.add("alice", alice_limits);
  *bob = store.add("bob", {});
  ServerConfig c;
  c.api_keys = std::make_shared<const ApiKeyStore>(store);
  return c;
}

// Defect: anyone who could reach the port could open sessions.
TEST_F(TrustTest, WithKeysARequestWithoutAValidKeyIsRefusedBeforeItsBodyIsRead) {
  ApiKeyStore store;
  std::string alice, bob;
  start(with_keys(store, &alice, &bob));
  EXPECT_EQ(code_of([&] { HttpChannel(channel()).open_session(ArithmeticService::key_bytes(1)); }),
            ErrorCode::unauthorized);
  EXPECT_EQ(code_of([&] { HttpChannel(channel(alice + "x")).open_session(ArithmeticService::key_bytes(1)); }),
            ErrorCode::unauthorized);
  EXPECT_EQ(service_.priced.load(), 0);
  expect_healthy(alice);
  // A head announcing 200 MB and no key: answered 401 at once, no body read.
  RawSocket s(server_->port());
  ASSERT_TRUE(s.send("POST /v1/message HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n"));
  const auto [status, body] = parse_response(s.receive(3s));
  EXPECT_EQ(status, 401);
  EXPECT_EQ(reply_code(Bytes(body.begin(), body.end())), ErrorCode::unauthorized);
  EXPECT_TRUE(s.wait_closed(4s)) << "the connection stays open with an unread body";
  // /metrics needs a key too; /health does not.
  EXPECT_EQ(code_of([&] { http_get(url_, "/metrics"); }), ErrorCode::server_unavailable);
  EXPECT_NE(http_get(url_, "/metrics", 5s, bob).find("fhellm_key_sessions{key=\"alice\"}"), std::string::npos);
  EXPECT_NO_THROW(http_get(url_, "/health"));
  EXPECT_GE(server_->metrics().unauthorized, 3u);
}

// Defect: sessions did not belong to anyone; an on-path client could close or lock another's.
TEST_F(TrustTest, ASessionBelongsToItsKey) {
  ApiKeyStore store;
  std::string alice, bob;
  start(with_keys(store, &alice, &bob));
  HttpChannel a(channel(alice));
  a.open_session(ArithmeticService::key_bytes(1));
  HttpChannel b(channel(bob));
  const std::uint32_t ids[] = {1};
  const Bytes call = encode_frame({MessageType::linear_call, a.session_id(), 100}, encode_linear_call(ids, Bytes{1}));
  const Bytes close = encode_frame({MessageType::close_session, a.session_id(), 101}, {});
  EXPECT_EQ(reply_code(b.exchange(call)), ErrorCode::unknown_session);
  EXPECT_EQ(reply_code(b.exchange(close)), ErrorCode::unknown_session);
  EXPECT_EQ(a.call(ids, Bytes{1}), (Bytes{3}));  // and bob's attempts did not consume alice's numbers
  EXPECT_EQ(server_->session_count(), 1u);
}

// Defect: rate_limited existed and nothing used it.
TEST_F(TrustTest, PerKeyBudgetsSessionsRequestsAndRows) {
  ApiKeyStore store;
  std::string alice, bob;
  start(with_keys(store, &alice, &bob, {2, 0, 0}));
  HttpChannel a1(channel(alice)), a2(channel(alice)), a3(channel(alice));
  a1.open_session(ArithmeticService::key_bytes(1));
  a2.open_session(ArithmeticService::key_bytes(1));
  EXPECT_EQ(code_of([&] { a3.open_session(ArithmeticService::key_bytes(1)); }), ErrorCode::session_limit);
  expect_healthy(bob);  // bob's places are his own
  a1.close();
  EXPECT_NO_THROW(a3.open_session(ArithmeticService::key_bytes(1)));
  server_->stop();

  // Requests per second: a burst of one second, then 429 with a Retry-After.
  ApiKeyStore store2;
  std::string carol = store2.add("carol", {0, 3, 0});
  ServerConfig c;
  c.api_keys = std::make_shared<const ApiKeyStore>(store2);
  start(c);
  HttpChannel ch(channel(carol));
  ch.open_session(ArithmeticService::key_bytes(1));
  const std::uint32_t ids[] = {1};
  ch.call(ids, Bytes{1});
  ch.call(ids, Bytes{1});
  const Bytes next = encode_frame({MessageType::linear_call, ch.session_id(), 50}, encode_linear_call(ids, Bytes{1}));
  int status = 0, retry_after = 0;
  EXPECT_EQ(reply_code(ch.exchange(next, &status, &retry_after)), ErrorCode::rate_limited);
  EXPECT_EQ(status, 429);
  EXPECT_GE(retry_after, 1);
  // The channel's own retry waits and gets through.
  ChannelConfig patient = channel(carol);
  patient.retry.attempts = 4;
  HttpChannel p(patient);
  EXPECT_NO_THROW(p.open_session(ArithmeticService::key_bytes(1)));
  server_->stop();

  // Rows per hour: the arithmetic service counts one row per payload byte.
  ApiKeyStore store3;
  std::string dave = store3.add("dave", {0, 0, 10});
  c.api_keys = std::make_shared<const ApiKeyStore>(store3);
  start(c);
  HttpChannel d(channel(dave));
  d.open_session(ArithmeticService::key_bytes(1));
  EXPECT_NO_THROW(d.call(ids, Bytes(6, 1)));
  EXPECT_EQ(code_of([&] { d.call(ids, Bytes(6, 1)); }), ErrorCode::rate_limited);
  EXPECT_NO_THROW(d.call(ids, Bytes(4, 1)));
  const ServerMetrics m = server_->metrics();
  ASSERT_EQ(m.keys.size(), 1u);
  EXPECT_EQ(m.keys[0].rows, 10u);
  EXPECT_EQ(m.keys[0].rate_limited, 1u);
}

TEST(ServerAddress, WithoutKeysLoopbackOnlyAndOffLoopbackTlsOrInsecure) {
  ArithmeticService service;
  ServerConfig c;
  c.port = 0;
  c.host = "0.0.0.0";
  EXPECT_EQ(code_of([&] { Server(service, c).start(); }), ErrorCode::invalid_argument);
  ApiKeyStore store;
  store.add("k", {});
  c.api_keys = std::make_shared<const ApiKeyStore>(store);
  EXPECT_EQ(code_of([&] { Server(service, c).start(); }), ErrorCode::invalid_argument);  // no TLS
  c.insecure = true;
  Server s(service, c);
  EXPECT_NO_THROW(s.start());
  s.stop();
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
}

// Defect: chunked bodies bypassed --max-request-mb (512 MiB took the server to 543 MB).
TEST_F(TrustTest, AChunkedBodyIsCutAtTheLimit) {
  ServerConfig c;
  c.max_request_bytes = 1 << 20;
  start(c);
  RawSocket s(server_->port());
  ASSERT_TRUE(s.send("POST /v1/message HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'A') + "\r\n";  // 64 KiB chunks, never a last one
  int sent = 0;
  while (sent < 64 && s.send(chunk)) ++sent;  // up to 4 MiB: the server must stop reading at 1 MiB
  const auto [status, body] = parse_response(s.receive(3s));
  EXPECT_EQ(status, 413);
  EXPECT_EQ(reply_code(Bytes(body.begin(), body.end())), ErrorCode::message_too_large);
  EXPECT_TRUE(s.wait_closed(4s));
  EXPECT_EQ(server_->metrics().memory_reserved_bytes, 0u);
  expect_healthy();
}

// Defect: an over-limit Content-Length was answered only after the whole body was read.
TEST_F(TrustTest, AnOversizedContentLengthIsAnsweredBeforeAnyBody) {
  ServerConfig c;
  c.max_request_bytes = 1 << 20;
  start(c);
  RawSocket s(server_->port());
  ASSERT_TRUE(s.send("POST /v1/message HTTP/1.1\r\nHost: x\r\nContent-Length: 536870912\r\n\r\n"));
  const auto [status, body] = parse_response(s.receive(3s));
  EXPECT_EQ(status, 413);
  EXPECT_EQ(reply_code(Bytes(body.begin(), body.end())), ErrorCode::message_too_large);
  EXPECT_TRUE(s.wait_closed(4s));
}

// Defect: 32 slow connections (= --threads) stopped all service, and SIGTERM waited for them.
TEST_F(TrustTest, SlowConnectionsNeitherStopServiceNorDelayStop) {
  ServerConfig c;
  c.max_connections = 200;
  c.max_connections_per_address = 200;
  c.head_timeout = 1500ms;
  c.body_timeout = 1500ms;
  start(c);
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawSocket>(server_->port()));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send(i % 2 == 0 ? "POST /v1/mess" : "POST /v1/message HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
  }
  expect_healthy();  // served while 100 connections dribble
  // The slow ones are closed at their deadline (head or body).
  for (auto& s : slow) EXPECT_TRUE(s->wait_closed(4s));
  // Beast closes a socket when its timer fires, before the handler that counts it runs.
  for (int i = 0; i < 100 && server_->metrics().connection_timeouts < 100; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->metrics().connection_timeouts, 100u);
  // Stop returns at once even with fresh slow connections open.
  for (auto& s : slow) s = std::make_unique<RawSocket>(server_->port());
  for (auto& s : slow) s->send("POST /v1/mess");
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(TrustTest, ConnectionCapsCloseExtraConnectionsOnAccept) {
  ServerConfig c;
  c.max_connections = 100;
  c.max_connections_per_address = 4;
  c.head_timeout = 60s;
  start(c);
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawSocket>(server_->port()));
  std::this_thread::sleep_for(100ms);
  RawSocket extra(server_->port());
  EXPECT_TRUE(extra.wait_closed(2s));
  EXPECT_GE(server_->metrics().connections_refused, 1u);
  held.clear();
  std::this_thread::sleep_for(200ms);
  expect_healthy();
}

// Defects: a message at sequence 2^64-1 left a session that could not be
// closed; a refused call consumed its sequence number.
TEST_F(TrustTest, SequenceNumbersAtTheEdges) {
  start();
  HttpChannel ch(channel());
  ch.open_session(ArithmeticService::key_bytes(2));
  const std::uint64_t id = ch.session_id();
  const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  const std::uint32_t ids[] = {1};
  const std::uint32_t failing[] = {ArithmeticService::kFailingLayer};
  auto call = [&](std::uint64_t seq, std::span<const std::uint32_t> layers) {
    return ch.exchange(encode_frame({MessageType::linear_call, id, seq}, encode_linear_call(layers, Bytes{1})));
  };
  auto ok = [](const Bytes& reply) { return decode_frame(reply).header.type == MessageType::linear_call_reply; };
  EXPECT_EQ(reply_code(call(top, ids)), ErrorCode::bad_message);  // a call may not take the last number
  EXPECT_EQ(reply_code(call(5, failing)), ErrorCode::unknown_layer);
  EXPECT_TRUE(ok(call(5, ids))) << "the refused call consumed sequence number 5";
  EXPECT_EQ(reply_code(call(5, ids)), ErrorCode::replayed_message);  // an accepted one did
  EXPECT_TRUE(ok(call(top - 1, ids)));
  // close_session may carry 2^64 - 1: the session can always be closed.
  const Bytes closed = ch.exchange(encode_frame({MessageType::close_session, id, top}, {}));
  EXPECT_EQ(decode_frame(closed).header.type, MessageType::close_session_reply);
  EXPECT_EQ(server_->session_count(), 0u);
  // open_session may not take it either.
  EXPECT_EQ(reply_code(ch.exchange(encode_frame({MessageType::open_session, 0, top},
                                                encode_open_session(ArithmeticService::key_bytes(1))))),
            ErrorCode::bad_message);
}

// Defect: --max-session-mb was checked only after the keys were parsed.
TEST_F(TrustTest, SessionMemoryIsPricedBeforeTheKeysAreParsedAndHeldAgainstTheBudget) {
  ServerConfig c;
  c.max_session_bytes = 1 << 20;
  // Two 64-byte sessions and one 44-byte open_session body in flight, not three sessions.
  c.max_memory_bytes = 2 * 64 + 100;
  start(c);
  EXPECT_EQ(code_of([&] { HttpChannel(channel()).open_session(ArithmeticService::key_bytes(ArithmeticService::kHugeKey)); }),
            ErrorCode::session_limit);
  EXPECT_EQ(service_.priced.load(), 1);
  EXPECT_EQ(service_.opened.load(), 0) << "keys over the limit were parsed";
  HttpChannel a(channel()), b(channel()), d(channel());
  a.open_session(ArithmeticService::key_bytes(1));
  b.open_session(ArithmeticService::key_bytes(2));
  EXPECT_EQ(code_of([&] { d.open_session(ArithmeticService::key_bytes(3)); }), ErrorCode::server_busy);
  EXPECT_EQ(server_->metrics().session_memory_bytes, 128u);
  a.close();
  EXPECT_NO_THROW(d.open_session(ArithmeticService::key_bytes(3)));
  const std::string text = server_->metrics_text();
  EXPECT_NE(text.find("fhellm_sessions_memory_bytes 128\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fhellm_memory_limit_bytes 228\n"), std::string::npos) << text;
}

TEST_F(TrustTest, ASecondCallOnABusySessionIsRefusedNotQueued) {
  start();
  service_.call_delay = 500ms;
  HttpChannel ch(channel());
  ch.open_session(ArithmeticService::key_bytes(1));
  const std::uint32_t ids[] = {1};
  std::thread slow([&] { EXPECT_NO_THROW(ch.call(ids, Bytes{1})); });
  std::this_thread::sleep_for(150ms);
  HttpChannel other(channel());
  const Bytes second =
      encode_frame({MessageType::linear_call, ch.session_id(), 1000}, encode_linear_call(ids, Bytes{1}));
  int status = 0;
  EXPECT_EQ(reply_code(other.exchange(second, &status)), ErrorCode::server_busy);
  EXPECT_EQ(status, 503);
  slow.join();
}

TEST_F(TrustTest, MetricsFollowPrometheusConventions) {
  start();
  expect_healthy();
  const std::string text = http_get(url_, "/metrics");
  for (const char* line :
       {"# TYPE fhellm_request_duration_seconds summary\n", "fhellm_request_duration_seconds_count 3\n",
        "# TYPE fhellm_requests_total counter\n", "# TYPE fhellm_sessions_memory_bytes gauge\n",
        "fhellm_key_sessions{key=\"anonymous\"} 0\n", "# TYPE process_resident_memory_bytes gauge\n",
        "fhellm_key_sessions_limit{key=\"anonymous\"} 0\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in\n" << text;
  // Every sample belongs to a family with a TYPE line, and counters end in _total.
  std::istringstream in(text);
  std::string typed;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# TYPE ", 0) == 0) {
      typed = l.substr(7, l.find(' ', 7) - 7);
      if (l.ends_with(" counter")) {
        EXPECT_TRUE(typed.ends_with("_total")) << l;
      }
    } else if (l[0] != '#') {
      EXPECT_EQ(l.rfind(typed, 0), 0u) << l << " outside its family " << typed;
    }
  }
}

// Defect: a server restarted 0.3 s after a kill ended every client that was generating.
TEST_F(TrustTest, AClientGoesOnThroughAServerRestart) {
  start();
  const int port = server_->port();
  ChannelConfig c = channel();
  c.retry.attempts = 10;
  HttpChannel ch(c);
  ch.open_session(ArithmeticService::key_bytes(7));
  const std::uint32_t ids[] = {1};
  EXPECT_EQ(ch.call(ids, Bytes{1}), (Bytes{9}));
  server_->stop();
  std::thread restart([&] {
    std::this_thread::sleep_for(300ms);
    ServerConfig again;
    again.host = "127.0.0.1";
    again.port = port;
    server_ = std::make_unique<Server>(service_, again);
    server_->start();
  });
  std::this_thread::sleep_for(50ms);
  // Refused while down (retried), then unknown_session (a new session, same keys).
  EXPECT_EQ(ch.call(ids, Bytes{1}), (Bytes{9}));
  restart.join();
  EXPECT_EQ(ch.sessions_opened(), 2u);
  EXPECT_GE(ch.retries(), 1u);
  EXPECT_EQ(server_->session_count(), 1u);
}

}  // namespace
}  // namespace fhellm::net
