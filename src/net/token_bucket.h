// A token bucket: `rate` tokens per second, at most `capacity` stored. The
// server keeps one per API key for requests per second and one for rows per
// hour. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

namespace fhellm::net {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: unlimited (every take succeeds). Starts full.
  TokenBucket(double rate, double capacity);

  // Takes `n` tokens if present. Otherwise takes none and returns the time
  // until `n` will be present (infinite-ish when n > capacity).
  // @return zero when taken.
  std::chrono::milliseconds take(double n, Clock::time_point now = Clock::now());
  // Tokens present now (after refill).
  double available(Clock::time_point now = Clock::now());

  double rate() const noexcept { return rate_; }
  double capacity() const noexcept { return capacity_; }

 private:
  void refill(Clock::time_point now);
  const double rate_, capacity_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace fhellm::net
