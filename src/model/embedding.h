// The embedding seam: every table lookup of a forward pass (the token
// embedding; GPT-2's learned positions) goes through one
// EmbeddingOps::lookup call per table and forward call, as the linear layers
// go through LinearOps. The float lookup is here (FloatEmbedding); fhellm's
// hybrid layer adds the quantized `simulate` lookup and the encrypted
// `execute` one (the server holds the table, docs/embedding.md).
#pragma once

#include <cstddef>
#include <span>

#include "common/token_id.h"
#include "model/linear.h"

namespace fhellm::model {

class EmbeddingOps {
 public:
  virtual ~EmbeddingOps() = default;
  // out[t, dim] = row ids[t] of `table` (token_embedding or
  // position_embedding) for every t. Ids are checked by the caller.
  virtual void lookup(LinearId table, std::span<const TokenId> ids, float* out) = 0;
};

class Model;

// The model's own float tables (fhe mode "disable").
class FloatEmbedding final : public EmbeddingOps {
 public:
  explicit FloatEmbedding(const Model& model) : model_(model) {}
  // @throws Error(invalid_argument) for a table the model does not hold,
  //         Error(unknown_layer) for a kind that is not a table
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override;

 private:
  const Model& model_;
};

}  // namespace fhellm::model
