#include "model/embedding.h"

#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "model/model.h"

namespace fhellm::model {

void FloatEmbedding::lookup(LinearId table, std::span<const TokenId> ids, float* out) {
  require(is_embedding(table.kind), ErrorCode::unknown_layer, linear_name(table) + " is not an embedding table");
  const LinearView v = model_.linear(table);
  require(v.weight != nullptr, ErrorCode::invalid_argument,
          linear_name(table) + ": this model does not hold the table (it is on the server); look it up in execute mode");
  for (std::size_t t = 0; t < ids.size(); ++t)
    std::memcpy(out + t * v.n_in, v.weight + static_cast<std::size_t>(ids[t]) * v.n_in, v.n_in * sizeof(float));
}

}  // namespace fhellm::model
