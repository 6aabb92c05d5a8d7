// The execute mode's wiring: which RemoteChannel a HybridModel's execute
// backend talks to. A server URL gives the HTTP transport (net::HttpChannel),
// checked against the client artifact's description when there is one; no
// URL gives a server in this process over the model's own weights
// (hybrid::make_remote_service), with no transport at all.
//
//   auto stats = client::enable_execute(hm, {.server_url = "http://127.0.0.1:8600"});
//   hm.set_mode(hybrid::FheMode::execute);   // the session opens on first use
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "he/linear_layout.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"

namespace fhellm::client {

struct ExecuteClientOptions {
  std::string server_url;  // empty: the server runs in this process
  std::chrono::milliseconds timeout{120000};  // per exchange; connect: min(timeout, 5 s)
  std::string api_key;                        // empty: none
  std::string ca_cert_path;                   // HTTPS: a CA file to trust besides the system's
  // When set (a client artifact's description), the server must answer this
  // exact description: client and server come from the same compile.
  std::shared_ptr<const Bytes> expected_description;
};

// Registers the execute backend on `hm` (the session opens when the mode is
// first used). Returns the figures, updated after every remote call.
// @throws Error(invalid_argument) for a malformed URL.
std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options);

}  // namespace fhellm::client
