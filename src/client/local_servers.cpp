#include "client/local_servers.h"

#include "he/linear.h"

namespace fhellm::client {
namespace {

// What the server's encoded weights depend on.
std::string configuration(const hybrid::HybridModel& hm, bool online) {
  std::string key = std::to_string(hm.quantization().weight_bits) + "/" +
                    std::to_string(hm.quantization().activation_bits) + "/" +
                    std::to_string(static_cast<int>(hm.precision())) + (online ? "/online:" : "/:");
  for (const hybrid::LinearId& id : hm.remote_modules())
    key += std::to_string(id.layer) + "." + std::to_string(static_cast<int>(id.kind)) + ",";
  return key;
}

}  // namespace

std::shared_ptr<hybrid::RemoteLinearService> LocalServers::get(hybrid::HybridModel& hm, bool online) {
  const std::string key = configuration(hm, online);
  // Held while building: a second session waits for this encoding instead
  // of making its own.
  std::lock_guard lock(mutex_);
  if (auto held = servers_[key].lock()) return held;
  hybrid::RemoteServiceOptions o;
  o.precisions = {hm.precision()};
  if (online) {
    if (hm.precision() != he::LinearPrecision::standard) o.precisions.insert(o.precisions.begin(), he::LinearPrecision::standard);
    o.online = true;
  }
  std::shared_ptr<hybrid::RemoteLinearService> made = hybrid::make_remote_service(hm, o);
  servers_[key] = made;
  return made;
}

}  // namespace fhellm::client
