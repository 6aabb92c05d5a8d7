// A RemoteService for transport tests (test code, not the product): the
// "evaluation key" is a u64 k; a call answers each payload byte plus k plus
// the sum of the layer ids (mod 256), so a reply mixed up between clients or
// layers is visible.
#pragma once

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "fhellm/error.h"
#include "hybrid/remote_service.h"

namespace fhellm::testing {

class ArithmeticSession final : public hybrid::RemoteSession {
 public:
  ArithmeticSession(std::uint64_t key, std::uint64_t memory) : key(key), memory(memory) {}
  std::uint64_t memory_bytes() const override { return memory; }
  std::uint64_t key;
  std::uint64_t memory;
  std::uint64_t n_calls = 0;
};

class ArithmeticService final : public hybrid::RemoteService {
 public:
  static constexpr std::uint32_t kFailingLayer = 999;   // a call on it throws unknown_layer
  static constexpr std::uint32_t kCrashingLayer = 998;  // a call on it throws std::runtime_error
  static constexpr std::uint64_t kHugeKey = 0xB16B16;   // its session claims 1 TiB

  Bytes description() const override { return {'a', 'r', 'i', 't', 'h', ' ', 'v', '1'}; }

  // The memory open_session's session will claim; keys of another size are refused here already.
  std::uint64_t session_memory_bytes(ByteView keys) override {
    require(keys.size() == 8, ErrorCode::wrong_key, "arithmetic keys are 8 bytes, got " + std::to_string(keys.size()));
    priced.fetch_add(1);
    return key_of(keys) == kHugeKey ? (1ull << 40) : 64;
  }

  // One row per payload byte; layer kFailingLayer is refused here already.
  hybrid::CallCost call_cost(std::span<const std::uint32_t> layer_ids, ByteView payload) const override {
    for (std::uint32_t id : layer_ids)
      require(id != kFailingLayer, ErrorCode::unknown_layer, "layer " + std::to_string(id) + " does not exist");
    return {payload.size()};
  }

  std::unique_ptr<hybrid::RemoteSession> open_session(ByteView keys) override {
    require(keys.size() == 8, ErrorCode::wrong_key, "arithmetic keys are 8 bytes, got " + std::to_string(keys.size()));
    const std::uint64_t k = key_of(keys);
    opened.fetch_add(1);
    return std::make_unique<ArithmeticSession>(k, k == kHugeKey ? (1ull << 40) : 64);
  }

  Bytes call(hybrid::RemoteSession& session, std::span<const std::uint32_t> layer_ids,
                     ByteView payload) override {
    auto& s = dynamic_cast<ArithmeticSession&>(session);
    std::uint64_t add = s.key;
    for (std::uint32_t id : layer_ids) {
      require(id != kFailingLayer, ErrorCode::unknown_layer, "layer " + std::to_string(id) + " does not exist");
      if (id == kCrashingLayer) throw std::runtime_error("simulated bug in a service");
      add += id;
    }
    if (call_delay.count() > 0) std::this_thread::sleep_for(call_delay);
    Bytes out(payload.size());
    for (std::size_t i = 0; i < payload.size(); ++i) out[i] = static_cast<std::uint8_t>(payload[i] + add);
    s.n_calls += 1;
    return out;
  }

  static std::uint64_t key_of(ByteView keys) {
    std::uint64_t k = 0;
    for (int i = 0; i < 8; ++i) k |= static_cast<std::uint64_t>(keys[i]) << (8 * i);
    return k;
  }

  static Bytes key_bytes(std::uint64_t k) {
    Bytes b(8);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(k >> (8 * i));
    return b;
  }

  std::atomic<int> opened{0};  // sessions parsed
  std::atomic<int> priced{0};  // sessions priced (session_memory_bytes)
  std::chrono::milliseconds call_delay{0};
};

}  // namespace fhellm::testing
