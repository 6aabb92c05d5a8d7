// Prometheus text exposition (format 0.0.4) of ServerMetrics. Internal to src/net.
#pragma once

#include <string>

#include "net/server.h"

namespace fhellm::net {

// Counters end in _total; the request duration is a summary (_sum, _count);
// per-key figures carry a key="NAME" label; sizes are in bytes.
std::string prometheus_text(const ServerMetrics& m);

}  // namespace fhellm::net
