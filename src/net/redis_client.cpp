#include "net/redis_client.h"

#include <sys/time.h>

#include "fhellm/error.h"
#include "net/retry_later.h"

namespace fhellm::net {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

// The URL as errors show it: credentials replaced.
std::string redacted(const std::string& url) {
  const auto at = url.rfind('@');
  return at == std::string::npos ? url : "redis://***@" + url.substr(at + 1);
}

int parse_int(const std::string& s, int lo, int hi, const std::string& url, const char* what) {
  int v = -1;
  try {
    std::size_t used = 0;
    v = std::stoi(s, &used);
    if (used != s.size()) v = -1;
  } catch (...) {
    v = -1;
  }
  require(v >= lo && v <= hi, ErrorCode::invalid_argument,
          std::string("session store '") + redacted(url) + "': bad " + what + " '" + s + "'");
  return v;
}

// Error replies after which the same command may succeed a little later.
bool transient_error(std::string_view text) {
  for (std::string_view p : {"LOADING", "BUSY", "OOM", "TRYAGAIN", "MASTERDOWN", "READONLY"}) {
    if (text.substr(0, p.size()) == p) return true;
  }
  return false;
}

RetryLater unreachable(const RedisAddress& a, const std::string& why) {
  return RetryLater(ErrorCode::server_busy, "session store " + a.text() + " unavailable: " + why,
                    std::chrono::seconds(1));
}

}  // namespace

std::string RedisAddress::text() const {
  return "redis://" + host + ":" + std::to_string(port) + (db != 0 ? "/" + std::to_string(db) : "");
}

RedisAddress parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  require(url.rfind(scheme, 0) == 0, ErrorCode::invalid_argument,
          "session store '" + redacted(url) + "' must be redis://[[USER]:PASSWORD@]HOST:PORT[/DB]");
  RedisAddress a;
  std::string rest = url.substr(scheme.size());
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    const std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = auth.find(':');
    require(colon != std::string::npos, ErrorCode::invalid_argument,
            "session store: credentials must be [USER]:PASSWORD@ (the URL's password part is missing)");
    a.user = auth.substr(0, colon);
    a.password = auth.substr(colon + 1);
  }
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    a.db = parse_int(rest.substr(slash + 1), 0, 1 << 20, url, "database number");
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.rfind(':');
  require(colon != std::string::npos && colon > 0, ErrorCode::invalid_argument,
          "session store '" + redacted(url) + "' must name HOST:PORT");
  a.host = rest.substr(0, colon);
  a.port = parse_int(rest.substr(colon + 1), 1, 65535, url, "port");
  return a;
}

RedisClient::RedisClient(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {
  try {
    redisContext* c = connect();
    std::lock_guard lock(mutex_);
    idle_.push_back(c);
  } catch (const Error& e) {
    throw Error(ErrorCode::io_error, e.what());
  }
}

RedisClient::~RedisClient() {
  for (redisContext* c : idle_) redisFree(c);
}

redisContext* RedisClient::connect() {
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeout_));
  if (c == nullptr) throw unreachable(address_, "out of memory");
  if (c->err != 0) {
    const std::string why = c->errstr;
    redisFree(c);
    throw unreachable(address_, why);
  }
  redisSetTimeout(c, to_timeval(timeout_));
  auto setup = [&](const std::vector<std::string_view>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (std::string_view s : args) argv.push_back(s.data()), lens.push_back(s.size());
    RedisReply r(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      const std::string why = r ? std::string(r->str, r->len) : std::string(c->errstr);
      redisFree(c);
      throw Error(ErrorCode::io_error, "session store " + address_.text() + " refused the connection's setup: " + why);
    }
  };
  if (!address_.password.empty()) {
    if (address_.user.empty()) {
      setup({"AUTH", address_.password});
    } else {
      setup({"AUTH", address_.user, address_.password});
    }
  }
  if (address_.db != 0) setup({"SELECT", std::to_string(address_.db)});
  return c;
}

RedisReply RedisClient::command(const std::vector<std::string_view>& args) {
  redisContext* c = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
    }
  }
  if (c == nullptr) c = connect();
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view s : args) argv.push_back(s.data()), lens.push_back(s.size());
  RedisReply r(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) {
    // Not sent again here: Redis may have run it (a claimed sequence number
    // claimed twice would refuse the client's call). The client retries with
    // a new number. The idle connections most likely broke too (a Redis
    // restart): none is reused.
    const std::string why = c->errstr;
    redisFree(c);
    std::vector<redisContext*> stale;
    {
      std::lock_guard lock(mutex_);
      stale.swap(idle_);
    }
    for (redisContext* s : stale) redisFree(s);
    throw unreachable(address_, why);
  }
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(c);
  }
  if (r->type == REDIS_REPLY_ERROR) {
    const std::string text(r->str, r->len);
    if (transient_error(text)) throw unreachable(address_, text);
    throw Error(ErrorCode::internal_error, "session store " + address_.text() + " answered: " + text);
  }
  return r;
}

}  // namespace fhellm::net
