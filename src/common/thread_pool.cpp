#include "common/thread_pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fhellm {
namespace {

// Set while a thread runs a task: a loop started from a task runs inline
// instead of waiting for the pool it is part of.
thread_local bool in_task = false;

// Spins while busy() holds, for at most kSpin: the gaps between the loops of
// one call and the helpers' last tasks are a few microseconds, a sleep and
// wake-up tens. Bounded so an idle pool sleeps (and costs nothing) soon.
constexpr auto kSpin = std::chrono::microseconds(50);
template <typename Busy>
void spin_while(Busy&& busy) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (busy() && std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

// Runs the tasks of one loop from any number of threads; remembers the first exception.
class TaskLoop {
 public:
  TaskLoop(std::size_t n_tasks, const std::function<void(std::size_t)>& task) : n_tasks_(n_tasks), task_(task) {}

  void work() {
    const bool outer = in_task;
    in_task = true;
    for (std::size_t i = next_++; i < n_tasks_; i = next_++) {
      try {
        task_(i);
      } catch (...) {
        std::lock_guard lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    in_task = outer;
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  const std::size_t n_tasks_;
  const std::function<void(std::size_t)>& task_;
  std::atomic<std::size_t> next_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

namespace {

std::size_t hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

// Everything the workers touch. Workers are detached and hold a reference, so
// the state outlives the pool until the last of them has left.
struct ThreadPool::State {
  std::mutex mutex;
  std::condition_variable wake;  // workers: a loop to join, or stop
  std::condition_variable done;  // run(): its helpers finished; stop(): workers gone, or the pool free
  const std::chrono::milliseconds idle_timeout;
  const pid_t owner = getpid();  // in a forked child the workers do not exist

  TaskLoop* loop = nullptr;  // the loop in progress (busy while set)
  std::uint64_t generation = 0;
  std::atomic<std::uint64_t> published{0};  // generation, read without the lock while spinning
  std::size_t wanted = 0, joined = 0, finished = 0;
  bool closed = true;  // the caller has finished its share: nobody joins any more
  std::size_t alive = 0;
  bool stopping = false;

  explicit State(std::chrono::milliseconds idle) : idle_timeout(idle) {}

  bool owned_here() const { return owner == getpid(); }

  static void worker(std::shared_ptr<State> s) {
    std::unique_lock lock(s->mutex);
    std::uint64_t seen = 0;
    for (;;) {
      // A call runs many short loops back to back; waking a sleeping worker
      // (a futex and a reschedule) costs more than the gap between them. So
      // watch for the next loop a little while before sleeping.
      lock.unlock();
      spin_while([&] { return s->published.load(std::memory_order_acquire) == seen; });
      lock.lock();
      const bool woke = s->wake.wait_for(lock, s->idle_timeout, [&] {
        return s->stopping || (s->loop && !s->closed && s->joined < s->wanted && s->generation != seen);
      });
      if (!woke || s->stopping) break;  // idle too long, or stopped
      seen = s->generation;
      ++s->joined;
      TaskLoop* loop = s->loop;
      lock.unlock();
      loop->work();
      lock.lock();
      if (++s->finished == s->joined && s->closed) s->done.notify_all();
    }
    --s->alive;
    s->done.notify_all();
  }
};

ThreadPool::ThreadPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout)
    : max_threads_(max_threads == 0 ? hardware_threads() : max_threads),
      state_(std::make_shared<State>(idle_timeout)) {}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::run(std::size_t n_tasks, std::size_t threads, const std::function<void(std::size_t)>& task) {
  if (n_tasks == 0) return;
  threads = std::min(threads, n_tasks);
  TaskLoop loop(n_tasks, task);
  if (threads <= 1 || in_task) {
    loop.work();
  } else if (!claim_workers(loop, threads - 1)) {
    run_on_own_threads(loop, threads - 1);  // another loop holds the workers (another session)
  } else {
    loop.work();
    release_workers();
  }
  loop.rethrow();
}

bool ThreadPool::claim_workers(TaskLoop& loop, std::size_t helpers) {
  State& s = *state_;
  if (!s.owned_here()) return false;
  std::lock_guard lock(s.mutex);
  if (s.loop != nullptr || s.stopping) return false;
  s.loop = &loop;
  ++s.generation;
  s.published.store(s.generation, std::memory_order_release);
  s.wanted = helpers;
  s.joined = s.finished = 0;
  s.closed = false;
  for (; s.alive < s.wanted; ++s.alive) {
    try {
      std::thread(State::worker, state_).detach();
    } catch (const std::system_error&) {
      break;  // no more threads: the running ones share the work
    }
  }
  s.wake.notify_all();
  return true;
}

void ThreadPool::release_workers() {
  State& s = *state_;
  {
    std::unique_lock lock(s.mutex);
    s.closed = true;
    // The helpers are usually a moment from done: watch before sleeping.
    lock.unlock();
    spin_while([&] {
      std::lock_guard check(s.mutex);
      return s.finished != s.joined;
    });
    lock.lock();
    s.done.wait(lock, [&] { return s.finished == s.joined; });
    s.loop = nullptr;
  }
  s.done.notify_all();  // a stop() waiting for the pool to be free
}

void ThreadPool::run_on_own_threads(TaskLoop& loop, std::size_t helpers) {
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < helpers; ++t) {
    try {
      threads.emplace_back([&loop] { loop.work(); });
    } catch (const std::system_error&) {
      break;
    }
  }
  loop.work();
  for (auto& t : threads) t.join();
}

void ThreadPool::parallel_for(std::size_t n, std::size_t min_chunk,
                              const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  std::size_t n_chunks = std::min(max_threads_, (n + min_chunk - 1) / std::max<std::size_t>(min_chunk, 1));
  if (n_chunks <= 1 || in_task) {
    fn(0, n);
    return;
  }
  const std::size_t per = (n + n_chunks - 1) / n_chunks;
  n_chunks = (n + per - 1) / per;
  run(n_chunks, n_chunks, [&](std::size_t c) {
    const std::size_t begin = c * per;
    fn(begin, std::min(n, begin + per));
  });
}

void ThreadPool::stop() {
  State& s = *state_;
  if (!s.owned_here()) return;
  std::unique_lock lock(s.mutex);
  s.done.wait(lock, [&] { return s.loop == nullptr; });
  s.stopping = true;
  s.wake.notify_all();
  s.done.wait(lock, [&] { return s.alive == 0; });
  s.stopping = false;
}

std::size_t ThreadPool::n_workers() const {
  std::lock_guard lock(state_->mutex);
  return state_->alive;
}

ThreadPool& default_thread_pool() {
  static ThreadPool* const pool = [] {
    std::size_t n = hardware_threads();
    if (const char* env = std::getenv("FHELLM_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v >= 1 && v <= 256) n = static_cast<std::size_t>(v);
    }
    return new ThreadPool(n);
  }();
  return *pool;
}

std::size_t n_threads() { return default_thread_pool().max_threads(); }

void parallel_for(std::size_t n, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& fn) {
  default_thread_pool().parallel_for(n, min_chunk, fn);
}

}  // namespace fhellm
