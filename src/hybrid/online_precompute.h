// The online mode's offline phase (docs/online.md section 1): fresh masks
// per future row of every remote group, their products R W^T mod p computed
// by the server under encryption (two calls per batch: the residues mod the
// power of two and mod the odd factor, at the mask precisions), joined by
// CRT and stored encrypted at rest.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "hybrid/online_store.h"
#include "hybrid/online_wire.h"
#include "hybrid/remote_service.h"

namespace fhellm::he {
class LinearClient;
}

namespace fhellm::hybrid {

struct PrecomputeOptions {
  std::size_t rows = 0;        // rows to hold per group (the LM head: head_rows)
  std::size_t head_rows = 0;   // for wire id 4 (the LM head)
  // Rows per call pair and per stored batch (1..512): 64 rows cost 27% less
  // per row than 16 (the product's per-row cost falls with T, docs/online.md section 9).
  std::size_t batch_rows = 64;
  // The server's weight privacy (its model description's): the mask calls are
  // planned with it like any encrypted call (docs/linear.md section 6).
  int weight_privacy_bits = 0;
  // After each batch: (rows made, rows to make).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  // Asked before each batch: true ends the run there (the batches made stay
  // stored). A background top-up stops this way when a request comes.
  std::function<bool()> stop;
};

struct PrecomputeResult {
  std::uint64_t rows_made = 0;     // rows of every group together
  std::uint64_t rows_present = 0;  // found in the store before
  std::uint64_t calls = 0;         // encrypted calls (two per batch)
  double seconds = 0;
  ChannelStats channel;            // of the calls made here
};

// Tops every group of `layers` up to its row count, a batch per group in
// turn (a run stopped early leaves every group some rows: a generation needs
// all of them for each row). `channel` holds a session opened with
// `client`'s evaluation keys.
// @throws Error(invalid_argument) for batch_rows outside 1..512, the
//         channel's, the decryption's and the store's errors.
PrecomputeResult precompute_online(RemoteChannel& channel, const he::LinearClient& client,
                                   const std::vector<online::OnlineLayerInfo>& layers, OnlineStore& store,
                                   const PrecomputeOptions& options);

// One batch of `rows` rows for `layer`: what precompute_online stores.
MaterialBatch make_material(RemoteChannel& channel, const he::LinearClient& client,
                            const online::OnlineLayerInfo& layer, std::uint32_t rows, int weight_privacy_bits = 0);

}  // namespace fhellm::hybrid
