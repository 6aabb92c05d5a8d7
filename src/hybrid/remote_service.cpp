#include "hybrid/remote_service.h"

#include <chrono>

#include "fhellm/error.h"

namespace fhellm::hybrid {

Bytes InProcessChannel::open_session(ByteView evaluation_keys) {
  session_ = service_.open_session(evaluation_keys);
  Bytes description = service_.description();
  stats_.session_bytes_up += evaluation_keys.size();
  stats_.session_bytes_down += description.size();
  return description;
}

Bytes InProcessChannel::call(std::span<const std::uint32_t> layer_ids, ByteView payload) {
  require(session_ != nullptr, ErrorCode::unknown_session, "in-process channel: call before open_session");
  const auto start = std::chrono::steady_clock::now();
  Bytes reply = service_.call(*session_, layer_ids, payload);
  const std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
  stats_.n_calls += 1;
  stats_.bytes_up += payload.size() + 4 * layer_ids.size();
  stats_.bytes_down += reply.size();
  stats_.server_seconds += spent.count();
  return reply;
}

void InProcessChannel::close() noexcept { session_.reset(); }

ChannelStats InProcessChannel::stats() const { return stats_; }

}  // namespace fhellm::hybrid
