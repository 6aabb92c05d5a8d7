#include "net/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace fhellm::net {

TokenBucket::TokenBucket(double rate, double capacity)
    : rate_(rate), capacity_(std::max(capacity, 1.0)), tokens_(std::max(capacity, 1.0)), last_(Clock::now()) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
  last_ = now;
}

std::chrono::milliseconds TokenBucket::take(double n, Clock::time_point now) {
  if (rate_ <= 0) return std::chrono::milliseconds(0);
  std::lock_guard lock(mutex_);
  refill(now);
  if (tokens_ >= n) {
    tokens_ -= n;
    return std::chrono::milliseconds(0);
  }
  // Never more than a day (a request larger than the bucket never fits: its
  // caller reports that apart).
  const double wait = std::min((n - tokens_) / rate_, 86400.0);
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait * 1e3))));
}

double TokenBucket::available(Clock::time_point now) {
  if (rate_ <= 0) return capacity_;
  std::lock_guard lock(mutex_);
  refill(now);
  return tokens_;
}

}  // namespace fhellm::net
