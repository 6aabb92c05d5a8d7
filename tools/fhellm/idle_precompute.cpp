#include "idle_precompute.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>

#include "fhellm/error.h"

namespace fhellm::cli {
namespace {

// Rows per batch: a request that comes while one is made waits for it (16
// GPT-2 rows of a group: ~0.3 s of server time); 64 would cost 27% less per
// row (docs/online.md section 9) but hold a request up four times longer.
constexpr std::size_t kBatchRows = 16;
// After a failure that may pass (the server restarting, the network), the
// next try comes this much later.
constexpr auto kRetryAfter = std::chrono::seconds(30);

// Failures no retry mends: the server keeps no int8 weights, refuses the
// key, or serves another model.
bool lasting(ErrorCode code) {
  return code == ErrorCode::online_not_served || code == ErrorCode::unauthorized ||
         code == ErrorCode::bad_artifact || code == ErrorCode::bad_mode || code == ErrorCode::stale_material ||
         code == ErrorCode::material_corrupt;
}

}  // namespace

IdlePrecompute::IdlePrecompute(Client client, std::size_t rows, std::size_t head_rows, std::function<bool()> busy,
                               std::function<void(const std::string&)> log)
    : client_(std::move(client)),
      rows_(rows),
      head_rows_(head_rows == 0 ? rows : head_rows),
      busy_(std::move(busy)),
      log_(std::move(log)),
      thread_([this] { loop(); }) {}

IdlePrecompute::~IdlePrecompute() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IdlePrecompute::wake() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  wake_.notify_all();
}

bool IdlePrecompute::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool IdlePrecompute::should_stop() {
  std::lock_guard lock(mutex_);
  return stopping_ || busy_();
}

void IdlePrecompute::loop() {
  // Signals are the commands' to wait for (the gateway's sigwait), not this thread's.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // The last request's end calls wake(): busy_() turns false only then.
      wake_.wait(lock, [this] { return stopping_ || (pending_ && !busy_()); });
      if (stopping_) return;
      pending_ = false;
    }
    PrecomputeOptions o;
    o.rows = rows_;
    o.head_rows = head_rows_;
    o.batch_rows = kBatchRows;
    bool interrupted = false;
    o.stop = [this, &interrupted] { return interrupted = should_stop(); };
    PrecomputeResult r;
    const Status status = client_.try_precompute(o, r);
    if (!status.ok()) {
      if (log_) log_("online precompute: " + status.message() + (lasting(status.code()) ? "; no more tries" : ""));
      if (lasting(status.code())) return;
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kRetryAfter, [this] { return stopping_; });
      pending_ = true;
      continue;
    }
    if (interrupted) {
      std::lock_guard lock(mutex_);
      pending_ = true;  // the rest when idle again
    }
    if (log_ && r.rows_made > 0) {
      const std::string state = !interrupted ? "every group holds " + std::to_string(rows_) + " rows, the LM head " +
                                                   std::to_string(head_rows_)
                                : stopping() ? "stopped"
                                             : "a request came, the rest when idle";
      char made[96];
      std::snprintf(made, sizeof made, "%llu rows made in %.1f s; ", static_cast<unsigned long long>(r.rows_made),
                    r.seconds);
      log_("online precompute: " + std::string(made) + state);
    }
  }
}

}  // namespace fhellm::cli
