// The reply path of a call (docs/linear.md section 7, "Per-call overhead"):
// the worker thread writes what the socket takes at once and hands the rest
// to the I/O thread; the client reads the reply into one buffer, never past
// its limit.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "net/http_channel.h"
#include "net/raw_socket.h"
#include "net/server.h"
#include "net/test_service.h"

namespace fhellm::net {
namespace {

using fhellm::testing::ArithmeticService;
using fhellm::testing::RawSocket;
using namespace std::chrono_literals;

// More than a loopback socket's send buffer and an unread receive buffer
// hold (4 MB and about 128 KB by default): the worker's write cannot finish
// at once, the I/O thread writes the rest.
constexpr std::size_t kLargeReply = 8u << 20;

class ReplyPathTest : public ::testing::Test {
 protected:
  void start(int workers, std::chrono::milliseconds keep_alive = 10s) {
    ServerConfig config;
    config.head_timeout = keep_alive;
    config.host = "127.0.0.1";
    config.port = 0;
    config.max_parallel_calls = workers;
    server_ = std::make_unique<Server>(service_, config);
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  ChannelConfig channel_config() const {
    ChannelConfig c;
    c.url = "http://127.0.0.1:" + std::to_string(server_->port());
    c.connect_timeout = 2s;
    c.io_timeout = 20s;
    c.retry.attempts = 1;
    c.reopen_session = false;
    return c;
  }

  ArithmeticService service_;
  std::unique_ptr<Server> server_;
};

// The reply the arithmetic service gives to `payload` on `layer` for `key`.
Bytes expected_reply(const Bytes& payload, std::uint64_t key, std::uint32_t layer) {
  Bytes out(payload.size());
  for (std::size_t i = 0; i < payload.size(); ++i) out[i] = static_cast<std::uint8_t>(payload[i] + key + layer);
  return out;
}

TEST_F(ReplyPathTest, CallsShareOneConnectionAndALargeReplyArrivesWhole) {
  start(2);
  HttpChannel ch(channel_config());
  ch.open_session(ArithmeticService::key_bytes(3));
  const std::uint32_t layer = 4;
  Bytes large(kLargeReply);
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<std::uint8_t>(i * 131 + (i >> 16));
  EXPECT_EQ(ch.call({&layer, 1}, Bytes{1, 2, 3}), (Bytes{8, 9, 10}));
  EXPECT_EQ(ch.call({&layer, 1}, large), expected_reply(large, 3, layer));
  EXPECT_EQ(ch.call({&layer, 1}, Bytes{1, 2, 3}), (Bytes{8, 9, 10}));
  // Every reply was followed by the next read on the same keep-alive connection.
  EXPECT_EQ(server_->metrics().connections_open, 1u);
  ch.close();
}

TEST_F(ReplyPathTest, AClientThatDoesNotReadItsReplyHoldsNoWorker) {
  start(1);  // one worker: were it stuck writing, nobody else would be served
  HttpChannel opener(channel_config());
  opener.open_session(ArithmeticService::key_bytes(1));
  // The same session's next call, sent raw, its large reply left unread.
  const std::uint32_t layer = 2;
  const Bytes frame = encode_frame({MessageType::linear_call, opener.session_id(), 2},
                                   encode_linear_call({&layer, 1}, Bytes(kLargeReply, 5)));
  RawSocket slow(server_->port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send("POST /v1/message HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: " + std::to_string(frame.size()) + "\r\n\r\n" +
                        std::string(frame.begin(), frame.end())));
  while (server_->metrics().linear_calls < 1) std::this_thread::sleep_for(5ms);  // its work is done
  // Another client is served meanwhile, by the one worker.
  HttpChannel other(channel_config());
  other.open_session(ArithmeticService::key_bytes(7));
  EXPECT_EQ(other.call({&layer, 1}, Bytes{1}), (Bytes{10}));
  // The slow client's reply is all there once it reads.
  const std::string reply = slow.receive(20s);
  const std::size_t head_end = reply.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_NE(reply.find("Content-Length: " + std::to_string(kLargeReply + kHeaderBytes + 12)), std::string::npos);
  EXPECT_EQ(reply.size() - head_end - 4, kLargeReply + kHeaderBytes + 12);
  other.close();
}

TEST_F(ReplyPathTest, AConnectionTheServerClosedWhileIdleIsReplacedUnseen) {
  start(2, 200ms);  // the server closes a connection idle for 200 ms
  HttpChannel ch(channel_config());  // one try per exchange: no retry hides a failure
  ch.open_session(ArithmeticService::key_bytes(1));
  const std::uint32_t layer = 1;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ch.call({&layer, 1}, Bytes{1}), Bytes{3});
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(server_->metrics().connections_open, 0u);
  }
  EXPECT_EQ(ch.retries(), 0u);
  ch.close();
}

TEST_F(ReplyPathTest, AReplyOverTheClientsLimitIsRefusedAndTheChannelGoesOn) {
  start(2);
  ChannelConfig config = channel_config();
  config.max_reply_bytes = 1024;  // payload bytes; the 32-byte frame header comes on top
  HttpChannel ch(config);
  ch.open_session(ArithmeticService::key_bytes(0));
  const std::uint32_t layer = 1;
  try {
    ch.call({&layer, 1}, Bytes(4096, 1));
    ADD_FAILURE() << "a 4 KB reply passed a 1 KB limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::message_too_large) << e.what();
  }
  // The refused reply's connection is dropped; the next call opens another.
  EXPECT_EQ(ch.call({&layer, 1}, Bytes(1000, 1)), Bytes(1000, 2));
  ch.close();
}

}  // namespace
}  // namespace fhellm::net
