// The execute mode's wiring: which RemoteChannel a HybridModel's execute
// backend talks to. A server URL gives the HTTP transport (net::HttpChannel),
// checked against the client artifact's description when there is one; no
// URL gives a server in this process over the model's own weights
// (hybrid::make_remote_service), with no transport at all.
//
//   auto stats = client::enable_execute(hm, {.server_url = "http://127.0.0.1:8600"});
//   hm.set_mode(hybrid::FheMode::execute);   // the session opens on first use
//
// With `online`, the execute backend is the online one (hybrid/online_backend.h:
// precomputed material, the encrypted path as its fallback).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client/local_servers.h"
#include "common/bytes.h"
#include "he/linear.h"
#include "he/linear_layout.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/online_backend.h"
#include "hybrid/online_precompute.h"

namespace fhellm::client {

struct ExecuteClientOptions {
  std::string server_url;  // empty: the server runs in this process
  std::chrono::milliseconds timeout{120000};  // per exchange; connect: min(timeout, 5 s)
  std::string api_key;                        // empty: none
  std::string ca_cert_path;                   // HTTPS: a CA file to trust besides the system's
  // When set (a client artifact's description), the server must answer this
  // exact description: client and server come from the same compile.
  std::shared_ptr<const Bytes> expected_description;
  // No URL: the servers in this process, shared by a Client and its
  // new_session()s (null: this model's own).
  std::shared_ptr<LocalServers> local;
};

// A new channel (not yet open) to the options' server at each call; in this
// process the server over `hm`'s weights (options.local's: built at the
// first call, shared by every channel and session) that keeps the int8
// weights for the online mode and serves the standard precision and `hm`'s.
using ChannelFactory = std::function<std::unique_ptr<hybrid::RemoteChannel>()>;
// @throws Error(invalid_argument) for a malformed URL.
ChannelFactory make_channel_factory(hybrid::HybridModel& hm, const ExecuteClientOptions& options);

// Registers the execute backend on `hm` (the session opens when the mode is
// first used). Returns the figures, updated after every remote call.
// @throws Error(invalid_argument) for a malformed URL.
std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options);

// Figures of the online mode, updated after every remote call.
struct OnlineFigures {
  std::shared_ptr<hybrid::ExecuteStats> fallback;  // the encrypted path, for rows without material
  std::shared_ptr<hybrid::OnlineStats> online;     // the online path
};

// Registers the online backend as `hm`'s execute mode, over `store`
// (docs/online.md), with the encrypted path as its fallback.
// @throws Error(invalid_argument) for a malformed URL.
OnlineFigures enable_online(hybrid::HybridModel& hm, ChannelFactory channels, std::shared_ptr<hybrid::OnlineStore> store);

// The offline phase's session: opened once (fresh keys, the server's
// online layers read), then any number of runs, each topping every remote
// group of the server's model up to its options' rows in a store. A
// background top-up (the gateway's) runs once per idle stretch: one key
// upload for all of them, not one each. Closed with the object.
class OfflineSession {
 public:
  // @throws Error(bad_artifact) when the server's model is not `model`,
  //         Error(online_not_served), the channel's errors.
  OfflineSession(const model::Model& model, const ChannelFactory& channels);
  ~OfflineSession();
  OfflineSession(const OfflineSession&) = delete;
  OfflineSession& operator=(const OfflineSession&) = delete;

  // @throws precompute_online's errors.
  hybrid::PrecomputeResult run(hybrid::OnlineStore& store, hybrid::PrecomputeOptions options);

 private:
  std::unique_ptr<hybrid::RemoteChannel> channel_;
  he::LinearClient client_;
  std::vector<hybrid::online::OnlineLayerInfo> layers_;
  int weight_privacy_bits_ = 0;  // the server's setting plans the mask calls
};

}  // namespace fhellm::client
