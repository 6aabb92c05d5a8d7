#include "hybrid/linear_backend.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::hybrid {

std::uint32_t linear_wire_id(LinearId id) {
  return static_cast<std::uint32_t>(id.layer + 1) * 8u + static_cast<std::uint32_t>(id.kind);
}

LinearId linear_from_wire_id(std::uint32_t wire_id) {
  const std::uint32_t kind = wire_id % 8u, layer_plus_one = wire_id / 8u;
  const bool head = kind >= static_cast<std::uint32_t>(LinearKind::lm_head);  // the head and the tables: layer -1
  require(kind < static_cast<std::uint32_t>(model::kLinearKinds) && (head == (layer_plus_one == 0)) &&
              layer_plus_one <= (1u << 20),
          ErrorCode::unknown_layer, "no linear layer or table has wire id " + std::to_string(wire_id));
  return {static_cast<int>(layer_plus_one) - 1, static_cast<LinearKind>(kind)};
}

}  // namespace fhellm::hybrid
