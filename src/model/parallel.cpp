#include "fhellm/model/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace fhellm::model {
namespace {

// Workers sleep on a condition variable; each job is one generation of
// chunks. The caller takes chunk 0 itself, so one thread means no pool.
class Pool {
 public:
  explicit Pool(std::size_t n_workers) {
    for (std::size_t i = 0; i < n_workers; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(std::size_t n_chunks, const std::function<void(std::size_t)>& chunk) {
    std::unique_lock run_lock(run_mutex_);  // one job at a time
    {
      std::lock_guard lock(mutex_);
      job_ = &chunk;
      n_chunks_ = n_chunks;
      pending_ = n_chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    chunk(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(std::size_t index) {
    std::size_t seen = 0;
    for (;;) {
      const std::function<void(std::size_t)>* job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= n_chunks_) continue;
        job = job_;
      }
      (*job)(index);
      {
        std::lock_guard lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex run_mutex_, mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t n_chunks_ = 0, pending_ = 0, generation_ = 0;
  bool stop_ = false;
};

// Set while a thread runs a chunk: a nested parallel_for runs inline instead
// of waiting for the pool it is part of.
thread_local bool in_pool_job = false;

Pool& pool() {
  static Pool instance(n_threads() - 1);
  return instance;
}

}  // namespace

std::size_t n_threads() {
  static const std::size_t n = [] {
    if (const char* env = std::getenv("FHELLM_THREADS")) {
      long v = std::strtol(env, nullptr, 10);
      if (v >= 1 && v <= 256) return static_cast<std::size_t>(v);
    }
    return static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return n;
}

void parallel_for(std::size_t n, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  std::size_t n_chunks = std::min(n_threads(), (n + min_chunk - 1) / std::max<std::size_t>(min_chunk, 1));
  if (n_chunks <= 1 || in_pool_job) {
    fn(0, n);
    return;
  }
  const std::size_t per = (n + n_chunks - 1) / n_chunks;
  n_chunks = (n + per - 1) / per;
  pool().run(n_chunks, [&](std::size_t c) {
    const bool outer = in_pool_job;
    in_pool_job = true;
    const std::size_t begin = c * per;
    fn(begin, std::min(n, begin + per));
    in_pool_job = outer;
  });
}

}  // namespace fhellm::model
