#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fhellm {
namespace {

using namespace std::chrono_literals;

// Every index is visited once, and a nested parallel_for (run inline) does
// not deadlock on the pool it runs in.
TEST(ThreadPool, ParallelForCoversTheRangeOnceAndNests) {
  std::vector<std::atomic<int>> seen(1000);
  parallel_for(seen.size(), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) seen[i] += 1;
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  std::atomic<int> inner{0};
  parallel_for(8, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      parallel_for(10, 1, [&](std::size_t b2, std::size_t e2) { inner += static_cast<int>(e2 - b2); });
    }
  });
  EXPECT_EQ(inner.load(), 80);
}

TEST(ThreadPool, RunsEveryTaskOnceOnTheThreadsAsked) {
  ThreadPool pool(4);
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    std::vector<std::atomic<int>> seen(257);
    pool.run(seen.size(), threads, [&](std::size_t i) { seen[i] += 1; });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1) << threads << " threads";
  }
  // Workers are made on demand: at most threads - 1 of them (the caller is one).
  EXPECT_LE(pool.n_workers(), 7u);
}

TEST(ThreadPool, RethrowsTheFirstExceptionAfterEveryOtherTaskRan) {
  ThreadPool pool(4);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.run(100, 4,
                        [&](std::size_t i) {
                          ++ran;
                          if (i % 10 == 3) throw std::runtime_error("task " + std::to_string(i));
                        }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 100);
  // The pool is usable after a throwing loop.
  std::atomic<int> again{0};
  pool.run(50, 4, [&](std::size_t) { ++again; });
  EXPECT_EQ(again.load(), 50);
}

// Two callers at once: one holds the workers, the other runs on threads of
// its own; both finish with every task done.
TEST(ThreadPool, ConcurrentLoopsBothComplete) {
  ThreadPool pool(4);
  std::atomic<int> a{0}, b{0};
  std::thread other([&] {
    for (int r = 0; r < 50; ++r) pool.run(64, 3, [&](std::size_t) { ++a; });
  });
  for (int r = 0; r < 50; ++r) pool.run(64, 3, [&](std::size_t) { ++b; });
  other.join();
  EXPECT_EQ(a.load(), 50 * 64);
  EXPECT_EQ(b.load(), 50 * 64);
}

// The owner ends the workers; the next loop starts new ones.
TEST(ThreadPool, StopEndsTheWorkersAndTheNextLoopRestartsThem) {
  ThreadPool pool(4);
  pool.run(16, 4, [](std::size_t) { std::this_thread::sleep_for(1ms); });
  EXPECT_GE(pool.n_workers(), 1u);
  pool.stop();
  EXPECT_EQ(pool.n_workers(), 0u);
  std::atomic<int> n{0};
  pool.run(16, 4, [&](std::size_t) { ++n; });
  EXPECT_EQ(n.load(), 16);
}

// Idle workers leave by themselves: nothing the library starts runs forever.
TEST(ThreadPool, IdleWorkersExit) {
  ThreadPool pool(4, 20ms);
  pool.run(16, 4, [](std::size_t) { std::this_thread::sleep_for(1ms); });
  for (int i = 0; i < 200 && pool.n_workers() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pool.n_workers(), 0u);
}

}  // namespace
}  // namespace fhellm
