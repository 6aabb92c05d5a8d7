// LinearBackend: one implementation of the linear-layer seam per FHE mode
// (disable_backend.h, simulate_backend.h, and the remote execute backend).
// A backend receives only the calls of the *remote* modules; HybridModel
// routes the others to the clear float product on the client.
//
// Plugging in a new mode (execute): implement LinearBackend, then register a
// factory with HybridModel::set_backend_factory(FheMode::execute, ...). The
// factory gets the HybridModel, hence the model, the remote modules and the
// quantized weights (HybridModel::quantized_linears(), identical to the
// ones simulate uses), so the server computes the same integers.
#pragma once

#include <cstdint>

#include "hybrid/fhe_mode.h"
#include "model/embedding.h"
#include "model/linear.h"

namespace fhellm::hybrid {

using model::LinearId;
using model::LinearKind;

// Counters every backend keeps (summary line, --json).
struct LinearStats {
  std::uint64_t n_calls = 0;  // apply() calls
  std::uint64_t n_rows = 0;   // rows through them
  double seconds = 0.0;       // wall time inside apply()
};

// A backend also looks up the remote embedding tables (model::EmbeddingOps):
// HybridModel routes the lookups of remote tables to it, the others to the
// model's float tables.
class LinearBackend : public model::LinearOps, public model::EmbeddingOps {
 public:
  virtual FheMode mode() const = 0;
  virtual LinearStats stats() const { return stats_; }
  // Does now what the first call would otherwise wait for (an execute
  // backend opens its server session: keys made and uploaded).
  virtual void prepare() {}

 protected:
  LinearStats stats_;
};

// Stable 32-bit id of a linear group or table for wire messages and
// artifacts: (layer + 1) * 8 + kind, so the LM head (layer -1) is 4, the
// token table 5 and the position table 6.
std::uint32_t linear_wire_id(LinearId id);
// @throws Error(unknown_layer) for an id no LinearId maps to
LinearId linear_from_wire_id(std::uint32_t wire_id);

}  // namespace fhellm::hybrid
