// fhe=disable: the clear float32 product of the model's weights (OpenBLAS)
// and its float tables.
#pragma once

#include "hybrid/linear_backend.h"
#include "model/model.h"

namespace fhellm::hybrid {

class DisableBackend final : public LinearBackend {
 public:
  // `model` must outlive the backend.
  explicit DisableBackend(const model::Model& model) : float_(model), tables_(model) {}
  FheMode mode() const override { return FheMode::disable; }
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override;
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override { tables_.lookup(table, ids, out); }

 private:
  model::FloatLinear float_;
  model::FloatEmbedding tables_;
};

}  // namespace fhellm::hybrid
