// What one remote call costs in transport alone (docs/linear.md section 7,
// "Per-call overhead"): net::HttpChannel -> net::Server in this process over
// loopback, on a service that does no work but answer the reply's size (and,
// in one case, sleep 2 ms as a real call leaves the server's I/O thread
// idle). Sizes of GPT-2 124M's calls (docs/linear.md section 7): a layer call
// of the encrypted path (8 KB up, 13 KB down), of the online path (5 KB,
// 9 KB), the LM head's (7 KB, 160 KB), and 1 MB both ways.
// network_us: the channel's own figure (call time less the server's).
//   ninja -C build fhellm_bench_net && nice build/bench/fhellm_bench_net --benchmark_filter=Transport
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <memory>
#include <thread>

#include "net/http_channel.h"
#include "net/server.h"

namespace fhellm {
namespace {

class ResizeSession final : public hybrid::RemoteSession {
 public:
  std::uint64_t memory_bytes() const override { return 64; }
};

// Answers `reply_bytes` bytes whatever it is asked: no work besides the copy.
class ResizeService final : public hybrid::RemoteService {
 public:
  std::size_t reply_bytes = 0;
  std::chrono::microseconds work{0};  // slept per call, as a server's work leaves the I/O thread idle
  Bytes description() const override { return {'r', 'e', 's', 'i', 'z', 'e'}; }
  std::uint64_t session_memory_bytes(ByteView) override { return 64; }
  hybrid::CallCost call_cost(std::span<const std::uint32_t>, ByteView) const override { return {1}; }
  std::unique_ptr<hybrid::RemoteSession> open_session(ByteView) override { return std::make_unique<ResizeSession>(); }
  Bytes call(hybrid::RemoteSession&, std::span<const std::uint32_t>, ByteView payload) override {
    if (work.count() > 0) std::this_thread::sleep_for(work);
    Bytes out(reply_bytes, payload.empty() ? 0 : payload[0]);
    return out;
  }
};

// The allocator as the fhellm binary sets it (tools/fhellm/allocator.cpp):
// freed memory kept for the next call, not faulted in again (a page fault
// costs ~20 us on this project's VM).
const bool kKeepFreedMemory = [] {
  mallopt(M_ARENA_MAX, 4);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  return true;
}();

// Args: bytes up, bytes down per call, microseconds of (sleeping) work per call.
void BM_TransportCall(benchmark::State& state) {
  ResizeService service;
  service.reply_bytes = static_cast<std::size_t>(state.range(1));
  service.work = std::chrono::microseconds(state.range(2));
  net::ServerConfig config;
  config.port = 0;
  net::Server server(service, config);
  server.start();
  net::ChannelConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(server.port());
  net::HttpChannel channel(c);
  channel.open_session(Bytes(8, 1));
  const Bytes payload(static_cast<std::size_t>(state.range(0)), 7);
  const std::uint32_t layer = 1;
  for (auto _ : state) benchmark::DoNotOptimize(channel.call({&layer, 1}, payload));
  const hybrid::ChannelStats s = channel.stats();
  state.counters["network_us"] = 1e6 * s.network_seconds / static_cast<double>(s.n_calls);
  channel.close();
  server.stop();
}
BENCHMARK(BM_TransportCall)
    ->Args({8 << 10, 13 << 10, 0})
    ->Args({5 << 10, 9 << 10, 0})
    ->Args({8 << 10, 13 << 10, 2000})
    ->Args({6650, 159763, 0})
    ->Args({1 << 20, 1 << 20, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace fhellm
