// The servers in this process of a Client and its new_session()s (execute
// with no server URL): one per configuration of the model (its remote
// modules, quantization and precision, with or without the online mode),
// built at the first use and shared by every session while one of them
// holds it, so a gateway of N sessions encodes the weights once, not N
// times (each session built its own before).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"

namespace fhellm::client {

class LocalServers {
 public:
  // The server for `hm`'s configuration; with `online`, one that also keeps
  // the int8 weights and serves the standard precision (precompute and the
  // online mode). Built here (encoding the weights) when no session holds one.
  std::shared_ptr<hybrid::RemoteLinearService> get(hybrid::HybridModel& hm, bool online);

 private:
  std::mutex mutex_;  // sessions run on their own threads (a gateway's)
  std::map<std::string, std::weak_ptr<hybrid::RemoteLinearService>> servers_;
};

}  // namespace fhellm::client
