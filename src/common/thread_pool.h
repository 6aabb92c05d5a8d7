// ThreadPool: the one pool of worker threads under fhellm's data-parallel
// loops (attention heads, the integer products of simulate, weight
// quantization, the sections of the encrypted matrix product).
//
//   ThreadPool& pool = default_thread_pool();
//   pool.run(n_rows, 8, [&](std::size_t row) { ... });          // 8 threads, caller included
//   parallel_for(n, 64, [&](std::size_t begin, std::size_t end) { ... });
//
// Lifetime: workers start on first use, and exit when the pool is stopped or
// destroyed, or after `idle_timeout` without work, so the library never keeps
// threads its caller cannot end. The caller's thread always takes part in
// its own loop; a loop never waits for a worker to wake up (work a worker has
// not claimed is done by the threads that are running), so a pool of one
// thread runs inline and a slow or absent worker costs speed, never progress.
// Thread-safe: one loop at a time uses the workers; a loop started while
// another holds them runs on threads made for it (joined before it returns);
// a loop started from inside a task runs inline on that task's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace fhellm {

class TaskLoop;

class ThreadPool {
 public:
  // max_threads: the threads parallel_for uses (0: the hardware's).
  explicit ThreadPool(std::size_t max_threads = 0,
                      std::chrono::milliseconds idle_timeout = std::chrono::seconds(10));
  ~ThreadPool();  // stop()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t max_threads() const { return max_threads_; }

  // Runs task(i) for every i in [0, n_tasks) on up to `threads` threads, the
  // caller's included; each thread takes the next index when it finishes
  // one. Returns when every task is done. When tasks throw, every other task
  // still runs and the first exception is rethrown here.
  void run(std::size_t n_tasks, std::size_t threads, const std::function<void(std::size_t)>& task);

  // fn(begin, end) over [0, n) split into at most max_threads() chunks of at
  // least min_chunk items (inline when that makes one chunk). Exceptions as run.
  void parallel_for(std::size_t n, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& fn);

  // Ends every worker (after the loop in progress, if any); the next loop
  // starts new ones. Safe to call at any time, from any thread but a task's.
  void stop();

  // Workers alive now (for tests and diagnostics).
  std::size_t n_workers() const;

 private:
  struct State;
  // Hands the workers `loop` (starting those missing); false when another loop holds them.
  bool claim_workers(TaskLoop& loop, std::size_t helpers);
  // Waits for the workers that joined, then frees the pool.
  void release_workers();
  void run_on_own_threads(TaskLoop& loop, std::size_t helpers);

  std::size_t max_threads_;
  std::shared_ptr<State> state_;  // shared with the workers, which may outlive a stop() by a few instructions
};

// The pool the library's loops use: FHELLM_THREADS threads if that is set (1
// to 256), else the hardware's. Never destroyed (it may be used until the
// process exits); its workers end when idle for 10 s or on stop().
ThreadPool& default_thread_pool();

// default_thread_pool().max_threads().
std::size_t n_threads();

// default_thread_pool().parallel_for(n, min_chunk, fn).
void parallel_for(std::size_t n, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace fhellm
