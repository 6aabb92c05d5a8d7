// An error that the same request may not meet again later: the server sends
// its code with a Retry-After header of `seconds` (server_busy, rate_limited).
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "fhellm/error.h"

namespace fhellm::net {

struct RetryLater : Error {
  RetryLater(ErrorCode code, const std::string& what, std::chrono::milliseconds wait)
      : Error(code, what), seconds(static_cast<int>(std::max<long long>(1, (wait.count() + 999) / 1000))) {}
  int seconds;
};

}  // namespace fhellm::net
