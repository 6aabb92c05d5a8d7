// Model: immutable, validated weights of one transformer, shared by every
// Session (std::shared_ptr<const Model>). Never modified after create().
#pragma once

#include <memory>
#include <vector>

#include "fhellm/model/config.h"
#include "fhellm/model/linear.h"
#include "fhellm/model/weights.h"

namespace fhellm::model {

class Model {
 public:
  // Checks the config and every tensor's size against it, then takes the
  // weights. Precomputes the RoPE frequencies (Llama).
  // @throws Error(bad_config) for an invalid config,
  //         Error(tensor_shape_mismatch) naming the tensor, expected and actual sizes
  static std::shared_ptr<const Model> create(ModelConfig config, ModelWeights weights);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // Weights of one linear group (the LM head points at the token embedding
  // when tied). @throws Error(unknown_layer) for an id outside the model
  LinearView linear(LinearId id) const;
  // Every linear group of the model in forward order (per layer qkv,
  // attn_out, mlp_up, mlp_down; then lm_head).
  std::vector<LinearId> linear_ids() const;

  // RoPE inverse frequencies, head_dim / 2 values (after Llama 3 scaling).
  const std::vector<float>& rope_inv_freq() const { return rope_inv_freq_; }

  // Number of parameters (tied head counted once).
  std::size_t n_parameters() const;

 private:
  Model() = default;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<float> rope_inv_freq_;
};

}  // namespace fhellm::model
