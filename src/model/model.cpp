#include "fhellm/model/model.h"

#include <cmath>
#include <numbers>
#include <string>

#include "fhellm/error.h"

namespace fhellm::model {
namespace {

void check_size(const std::vector<float>& tensor, std::size_t expected, const std::string& name) {
  require(tensor.size() == expected, ErrorCode::tensor_shape_mismatch,
          "tensor '" + name + "': expected " + std::to_string(expected) + " values, got " +
              std::to_string(tensor.size()));
}

// Optional tensors (biases) may be empty; otherwise their size must match.
void check_optional(const std::vector<float>& tensor, std::size_t expected, const std::string& name) {
  if (!tensor.empty()) check_size(tensor, expected, name);
}

// Inverse RoPE frequencies theta^(-2i/d), with the Llama 3 frequency-dependent
// scaling (Meta's llama3 reference, "apply_scaling").
std::vector<float> rope_frequencies(const ModelConfig& c) {
  std::vector<float> inv(c.head_dim / 2);
  for (std::size_t i = 0; i < inv.size(); ++i) {
    double freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / static_cast<double>(c.head_dim));
    if (c.rope_scaling.enabled) {
      const auto& s = c.rope_scaling;
      const double old_ctx = static_cast<double>(s.original_context);
      const double low_wavelen = old_ctx / s.low_freq_factor;
      const double high_wavelen = old_ctx / s.high_freq_factor;
      const double wavelen = 2.0 * std::numbers::pi / freq;
      if (wavelen > low_wavelen) {
        freq /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        freq = (1.0 - smooth) * freq / s.factor + smooth * freq;
      }
    }
    inv[i] = static_cast<float>(freq);
  }
  return inv;
}

}  // namespace

std::shared_ptr<const Model> Model::create(ModelConfig config, ModelWeights weights) {
  config.validate();
  const ModelConfig& c = config;
  const bool gpt2 = c.arch == Architecture::gpt2;
  const std::size_t d = c.dim, h = c.hidden_dim, qkv = c.q_dim() + 2 * c.kv_dim();
  const std::size_t up = gpt2 ? h : 2 * h;

  check_size(weights.token_embedding, c.vocab_size * d, "token_embedding");
  if (gpt2) {
    check_size(weights.position_embedding, c.context * d, "position_embedding");
  } else {
    check_optional(weights.position_embedding, 0, "position_embedding");
  }
  require(weights.layers.size() == c.n_layers, ErrorCode::tensor_shape_mismatch,
          "model has " + std::to_string(weights.layers.size()) + " layers, config says " +
              std::to_string(c.n_layers));
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights.layers[l];
    const std::string p = "layers." + std::to_string(l) + ".";
    check_size(w.attn_norm, d, p + "attn_norm");
    check_size(w.wqkv, qkv * d, p + "wqkv");
    check_size(w.wo, d * c.q_dim(), p + "wo");
    check_size(w.ffn_norm, d, p + "ffn_norm");
    check_size(w.w_up, up * d, p + "w_up");
    check_size(w.w_down, d * h, p + "w_down");
    check_optional(w.attn_norm_bias, d, p + "attn_norm_bias");
    check_optional(w.bqkv, qkv, p + "bqkv");
    check_optional(w.bo, d, p + "bo");
    check_optional(w.ffn_norm_bias, d, p + "ffn_norm_bias");
    check_optional(w.b_up, up, p + "b_up");
    check_optional(w.b_down, d, p + "b_down");
    if (gpt2) {
      check_size(w.attn_norm_bias, d, p + "attn_norm_bias");
      check_size(w.ffn_norm_bias, d, p + "ffn_norm_bias");
    }
  }
  check_size(weights.final_norm, d, "final_norm");
  check_optional(weights.final_norm_bias, d, "final_norm_bias");
  if (gpt2) check_size(weights.final_norm_bias, d, "final_norm_bias");
  if (c.tied_head) {
    check_optional(weights.lm_head, 0, "lm_head (tied)");
  } else {
    check_size(weights.lm_head, c.vocab_size * d, "lm_head");
  }

  std::shared_ptr<Model> model(new Model());
  model->config_ = std::move(config);
  model->weights_ = std::move(weights);
  model->rope_inv_freq_ = rope_frequencies(model->config_);
  return model;
}

LinearView Model::linear(LinearId id) const {
  const ModelConfig& c = config_;
  auto data = [](const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };
  if (id.kind == LinearKind::lm_head) {
    if (id.layer != -1) throw Error(ErrorCode::unknown_layer, "lm_head has layer -1, got " + std::to_string(id.layer));
    const float* w = c.tied_head ? weights_.token_embedding.data() : weights_.lm_head.data();
    return {w, nullptr, c.vocab_size, c.dim};
  }
  if (id.layer < 0 || static_cast<std::size_t>(id.layer) >= c.n_layers || static_cast<int>(id.kind) >= kLinearKinds) {
    throw Error(ErrorCode::unknown_layer,
                "no linear layer " + linear_name(id) + " in a model of " + std::to_string(c.n_layers) + " layers");
  }
  const LayerWeights& w = weights_.layers[static_cast<std::size_t>(id.layer)];
  switch (id.kind) {
    case LinearKind::qkv: return {w.wqkv.data(), data(w.bqkv), c.q_dim() + 2 * c.kv_dim(), c.dim};
    case LinearKind::attn_out: return {w.wo.data(), data(w.bo), c.dim, c.q_dim()};
    case LinearKind::mlp_up:
      return {w.w_up.data(), data(w.b_up), c.arch == Architecture::gpt2 ? c.hidden_dim : 2 * c.hidden_dim, c.dim};
    case LinearKind::mlp_down: return {w.w_down.data(), data(w.b_down), c.dim, c.hidden_dim};
    case LinearKind::lm_head: break;
  }
  throw Error(ErrorCode::unknown_layer, "unknown linear kind " + std::to_string(static_cast<int>(id.kind)));
}

std::vector<LinearId> Model::linear_ids() const {
  std::vector<LinearId> ids;
  for (std::size_t l = 0; l < config_.n_layers; ++l) {
    for (LinearKind k : {LinearKind::qkv, LinearKind::attn_out, LinearKind::mlp_up, LinearKind::mlp_down}) {
      ids.push_back({static_cast<int>(l), k});
    }
  }
  ids.push_back({-1, LinearKind::lm_head});
  return ids;
}

std::size_t Model::n_parameters() const {
  const ModelWeights& w = weights_;
  std::size_t n = w.token_embedding.size() + w.position_embedding.size() + w.final_norm.size() +
                  w.final_norm_bias.size() + w.lm_head.size();
  for (const LayerWeights& l : w.layers) {
    for (const auto* v : {&l.attn_norm, &l.attn_norm_bias, &l.wqkv, &l.bqkv, &l.wo, &l.bo, &l.ffn_norm,
                          &l.ffn_norm_bias, &l.w_up, &l.b_up, &l.w_down, &l.b_down}) {
      n += v->size();
    }
  }
  return n;
}

}  // namespace fhellm::model
