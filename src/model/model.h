// Model: immutable, validated weights of one transformer, shared by every
// Session (std::shared_ptr<const Model>). Never modified after create().
//
// A model may lack the weights of some linear groups and embedding tables: a
// client loaded from NAME.client holds every tensor but the remote groups'
// weight matrices and the remote tables, which only the server has. Those
// groups keep their shape and bias; linear(id).weight is nullptr and any
// local product or lookup of them (FloatLinear, FloatEmbedding, quantizing
// them for `simulate`) throws Error(invalid_argument). A tied LM head is the
// token table: it is absent exactly when the table is.
#pragma once

#include <memory>
#include <vector>

#include "model/config.h"
#include "model/linear.h"
#include "model/weights.h"

namespace fhellm::model {

class Model {
 public:
  // Checks the config and every tensor's size against it, then takes the
  // weights. Precomputes the RoPE frequencies (Llama).
  // @throws Error(bad_config) for an invalid config,
  //         Error(tensor_shape_mismatch) naming the tensor, expected and actual sizes,
  //         Error(bad_model_file) naming a tensor that holds a NaN or an infinity
  static std::shared_ptr<const Model> create(ModelConfig config, ModelWeights weights);

  // The same, without the weight matrices or tables of `absent` (duplicates
  // allowed): their tensors in `weights` must be empty; their biases are kept.
  // @throws as create, plus Error(unknown_layer) for an id outside the model,
  //         Error(invalid_argument) for a tied lm_head whose token table is
  //         held, or an absent group whose tensor is not empty
  static std::shared_ptr<const Model> create(ModelConfig config, ModelWeights weights,
                                             const std::vector<LinearId>& absent);

  const ModelConfig& config() const { return config_; }
  // Every tensor held; an absent group's weight is an empty vector.
  const ModelWeights& weights() const { return weights_; }

  // Weights of one linear group (the LM head points at the token embedding
  // when tied); weight is nullptr when the model does not hold it.
  // @throws Error(unknown_layer) for an id outside the model
  LinearView linear(LinearId id) const;
  // Whether the model holds the weight matrix of `id`.
  // @throws Error(unknown_layer) for an id outside the model
  bool holds_weight(LinearId id) const;
  // Groups (linear groups and tables) whose weights are absent: the tables,
  // then the linear groups in forward order.
  std::vector<LinearId> absent_linears() const;
  // Every linear group of the model in forward order (per layer qkv,
  // attn_out, mlp_up, mlp_down; then lm_head).
  std::vector<LinearId> linear_ids() const;
  // The model's embedding tables: token_embedding, and position_embedding
  // when the architecture has learned positions (GPT-2).
  std::vector<LinearId> embedding_ids() const;

  // RoPE inverse frequencies, head_dim / 2 values (after Llama 3 scaling).
  const std::vector<float>& rope_inv_freq() const { return rope_inv_freq_; }

  // Number of parameters of the architecture (tied head counted once),
  // absent weights included.
  std::size_t n_parameters() const;
  // Bytes of float tensors this object holds (absent weights take none).
  std::size_t weight_bytes() const;

 private:
  Model() = default;
  std::size_t slot(LinearId id) const;  // @throws Error(unknown_layer)
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<float> rope_inv_freq_;
  std::vector<bool> absent_;  // per slot (linear_slot): weight not held
};

}  // namespace fhellm::model
