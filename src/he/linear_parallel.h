// Internal: the worker threads of the encrypted matrix product's server and
// weight encoding. parallel_for(count, threads, f) runs f(i) for i < count
// on `threads` threads (the caller's included) and rethrows the first
// exception on the caller's thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fhellm::he::detail {

// Runs f(i) for i < count on `threads` threads (the caller's included).
// The first exception is rethrown on the caller's thread.
// Helper threads kept for the process: a call runs ~12 parallel sections
// (input side, products, one per tree level), and spawning threads for each
// cost ~600 thread creations per GPT-2 token. One call at a time holds the
// pool; a concurrent call (another session) spawns its own threads.
class HelperPool {
 public:
  // Never destroyed: its threads wait on a condition variable until the
  // process exits (no join at exit, nothing to tear down in a forked child).
  static HelperPool& instance() {
    static HelperPool* pool = new HelperPool;
    return *pool;
  }
  // Empty (not owning) when another call holds the pool, or in a child
  // process forked after the threads started (they do not exist there).
  std::unique_lock<std::mutex> claim() {
    if (getpid() != owner_) return {};
    return std::unique_lock<std::mutex>(busy_, std::try_to_lock);
  }
  // With the pool claimed: runs `job` once on each of `helpers` pool threads.
  void start(std::size_t helpers, const std::function<void()>* job) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (threads_.size() < helpers) {
      const std::size_t id = threads_.size();
      threads_.emplace_back([this, id] { loop(id); });
    }
    job_ = job;
    wanted_ = helpers;
    remaining_ = helpers;
    ++generation_;
    wake_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return remaining_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(std::size_t id) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen && id < wanted_; });
      seen = generation_;
      const std::function<void()>* job = job_;
      lock.unlock();
      (*job)();  // never throws: parallel_for's work catches
      lock.lock();
      if (--remaining_ == 0) done_.notify_all();
    }
  }
  std::mutex busy_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  std::size_t wanted_ = 0, remaining_ = 0;
  std::uint64_t generation_ = 0;
  const pid_t owner_ = getpid();
};

template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  threads = std::min(threads, count);
  if (threads <= 1) {
    for (std::size_t i = 0; i < count; ++i) f(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  HelperPool& helpers = HelperPool::instance();
  if (auto claim = helpers.claim()) {
    const std::function<void()> job = work;
    helpers.start(threads - 1, &job);
    work();
    helpers.wait();
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace fhellm::he::detail
