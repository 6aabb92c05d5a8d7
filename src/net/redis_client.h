// A thread-safe client of one Redis server (hiredis, synchronous): a small
// pool of connections, each used by one thread at a time, reconnected after
// any failure. Binary-safe arguments and replies.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fhellm::net {

// redis://[[USER]:PASSWORD@]HOST:PORT[/DB]
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user, password;  // AUTH when password is set
  std::string text() const;    // the URL without the password
};

// @throws Error(invalid_argument) for anything else.
RedisAddress parse_redis_url(const std::string& url);

struct RedisReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisClient {
 public:
  // Connects once to check the address (and the password, and the DB).
  // @throws Error(io_error) when Redis cannot be reached or refuses.
  RedisClient(RedisAddress address, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and returns its reply (never an error reply).
  // @throws RetryLater(server_busy) when Redis is unreachable, times out or
  //         answers that it cannot serve now (LOADING, BUSY, OOM...);
  //         Error(internal_error) for any other error reply.
  RedisReply command(const std::vector<std::string_view>& args);

  const RedisAddress& address() const noexcept { return address_; }

 private:
  redisContext* connect();
  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::vector<redisContext*> idle_;  // connections no thread is using
};

}  // namespace fhellm::net
