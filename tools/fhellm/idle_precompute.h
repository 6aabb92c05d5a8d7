// IdlePrecompute: keeps the online store topped up while a ChatEngine has no
// request to run (`fhellm gateway --online --precompute-rows N`, the same in
// `fhellm chat`, where a user's typing leaves the machines idle). A run
// makes a batch per remote group in turn (Client::precompute) and stops
// between two batches as soon as a request starts; the next idle moment
// tops up from there. Its own Client (a new_session of the engine's), so its
// session never meets a request's.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "fhellm/client.h"

namespace fhellm::cli {

class IdlePrecompute {
 public:
  // `busy`: whether a request runs now (asked before each batch). `log`: a
  // line after each run, and why the top-up ended when it did.
  IdlePrecompute(Client client, std::size_t rows, std::size_t head_rows, std::function<bool()> busy,
                 std::function<void(const std::string&)> log);
  // Stops after the batch in progress.
  ~IdlePrecompute();
  IdlePrecompute(const IdlePrecompute&) = delete;
  IdlePrecompute& operator=(const IdlePrecompute&) = delete;

  // A request ended: it may have used rows, and the engine may be idle now.
  void wake();

 private:
  void loop();
  bool stopping();
  bool should_stop();  // stopping, or a request runs

  Client client_;
  const std::size_t rows_, head_rows_;
  const std::function<bool()> busy_;
  const std::function<void(const std::string&)> log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = true;  // rows may be missing: run when idle
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is set
};

}  // namespace fhellm::cli
