#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <string>

#include "fhellm/error.h"

namespace fhellm::model {
namespace {

// A NaN or an infinity in a weight would turn every later activation into
// NaN (and every sampled token into garbage): refused at load, naming it.
void check_finite(const std::vector<float>& tensor, const std::string& name) {
  bool any_bad = false;
  for (const float v : tensor) {  // exponent all ones: inf or NaN (a loop the compiler vectorizes)
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    any_bad |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  if (!any_bad) return;
  const auto at = std::find_if(tensor.begin(), tensor.end(), [](float v) { return !std::isfinite(v); });
  throw Error(ErrorCode::bad_model_file, "tensor '" + name + "' holds " + (std::isnan(*at) ? "a NaN" : "an infinity") +
                                             " at index " + std::to_string(at - tensor.begin()) +
                                             ": the weights are corrupt");
}

void check_size(const std::vector<float>& tensor, std::size_t expected, const std::string& name) {
  require(tensor.size() == expected, ErrorCode::tensor_shape_mismatch,
          "tensor '" + name + "': expected " + std::to_string(expected) + " values, got " +
              std::to_string(tensor.size()));
  check_finite(tensor, name);
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
  return create(std::move(config), std::move(weights), {});
}

std::shared_ptr<const Model> Model::create(ModelConfig config, ModelWeights weights,
                                           const std::vector<LinearId>& absent) {
  config.validate();
  std::shared_ptr<Model> model(new Model());
  model->config_ = std::move(config);
  const ModelConfig& c = model->config_;
  const bool gpt2 = c.arch == Architecture::gpt2;
  const std::size_t d = c.dim, h = c.hidden_dim, qkv = c.q_dim() + 2 * c.kv_dim();
  const std::size_t up = gpt2 ? h : 2 * h;

  model->absent_.assign(linear_slot_count(c.n_layers), false);
  for (LinearId id : absent) model->absent_[model->slot(id)] = true;  // @throws unknown_layer
  if (c.tied_head) {
    // The tied head is the token table: absent with it, and only with it.
    const std::size_t head = model->slot({-1, LinearKind::lm_head});
    const std::size_t table = model->slot({-1, LinearKind::token_embedding});
    require(!model->absent_[head] || model->absent_[table], ErrorCode::invalid_argument,
            "lm_head is tied to the token embedding, which this model holds: it cannot be absent alone");
    model->absent_[head] = model->absent_[table];
  }
  // An absent group's weight must be empty; a held one must have its shape.
  auto check_weight = [&](const std::vector<float>& tensor, std::size_t expected, LinearId id, const std::string& name) {
    if (model->absent_[model->slot(id)]) {
      require(tensor.empty(), ErrorCode::invalid_argument,
              "tensor '" + name + "' is marked absent but holds " + std::to_string(tensor.size()) + " values");
    } else {
      check_size(tensor, expected, name);
    }
  };

  check_weight(weights.token_embedding, c.vocab_size * d, {-1, LinearKind::token_embedding}, "token_embedding");
  if (gpt2) {
    check_weight(weights.position_embedding, c.context * d, {-1, LinearKind::position_embedding},
                 "position_embedding");
  } else {
    check_optional(weights.position_embedding, 0, "position_embedding");
  }
  require(weights.layers.size() == c.n_layers, ErrorCode::tensor_shape_mismatch,
          "model has " + std::to_string(weights.layers.size()) + " layers, config says " +
              std::to_string(c.n_layers));
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights.layers[l];
    const int layer = static_cast<int>(l);
    const std::string p = "layers." + std::to_string(l) + ".";
    check_size(w.attn_norm, d, p + "attn_norm");
    check_weight(w.wqkv, qkv * d, {layer, LinearKind::qkv}, p + "wqkv");
    check_weight(w.wo, d * c.q_dim(), {layer, LinearKind::attn_out}, p + "wo");
    check_size(w.ffn_norm, d, p + "ffn_norm");
    check_weight(w.w_up, up * d, {layer, LinearKind::mlp_up}, p + "w_up");
    check_weight(w.w_down, d * h, {layer, LinearKind::mlp_down}, p + "w_down");
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
    check_weight(weights.lm_head, c.vocab_size * d, {-1, LinearKind::lm_head}, "lm_head");
  }

  model->weights_ = std::move(weights);
  model->rope_inv_freq_ = rope_frequencies(c);
  return model;
}

std::size_t Model::slot(LinearId id) const {
  const std::size_t n_layers = config_.n_layers;
  if (id.kind == LinearKind::lm_head || is_embedding(id.kind)) {
    if (id.layer != -1)
      throw Error(ErrorCode::unknown_layer, linear_name({-1, id.kind}) + " has layer -1, got " + std::to_string(id.layer));
    if (id.kind == LinearKind::position_embedding && config_.arch != Architecture::gpt2)
      throw Error(ErrorCode::unknown_layer, "this model has no position table (rotary positions)");
    return linear_slot(id, n_layers);
  }
  if (id.layer < 0 || static_cast<std::size_t>(id.layer) >= n_layers ||
      static_cast<std::size_t>(id.kind) >= kLinearKindsPerLayer) {
    throw Error(ErrorCode::unknown_layer,
                "no linear layer " + linear_name(id) + " in a model of " + std::to_string(n_layers) + " layers");
  }
  return linear_slot(id, n_layers);
}

bool Model::holds_weight(LinearId id) const { return !absent_[slot(id)]; }

std::vector<LinearId> Model::absent_linears() const {
  std::vector<LinearId> ids;
  for (LinearId id : embedding_ids())
    if (absent_[slot(id)]) ids.push_back(id);
  for (LinearId id : linear_ids())
    if (absent_[slot(id)]) ids.push_back(id);
  return ids;
}

std::vector<LinearId> Model::embedding_ids() const {
  std::vector<LinearId> ids{{-1, LinearKind::token_embedding}};
  if (config_.arch == Architecture::gpt2) ids.push_back({-1, LinearKind::position_embedding});
  return ids;
}

LinearView Model::linear(LinearId id) const {
  const ModelConfig& c = config_;
  const bool held = !absent_[slot(id)];  // @throws unknown_layer
  auto data = [](const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };
  auto weight = [&](const std::vector<float>& v) { return held ? v.data() : nullptr; };
  if (id.kind == LinearKind::lm_head) {
    return {weight(c.tied_head ? weights_.token_embedding : weights_.lm_head), nullptr, c.vocab_size, c.dim};
  }
  if (id.kind == LinearKind::token_embedding) return {weight(weights_.token_embedding), nullptr, c.vocab_size, c.dim};
  if (id.kind == LinearKind::position_embedding) return {weight(weights_.position_embedding), nullptr, c.context, c.dim};
  const LayerWeights& w = weights_.layers[static_cast<std::size_t>(id.layer)];
  switch (id.kind) {
    case LinearKind::qkv: return {weight(w.wqkv), data(w.bqkv), c.q_dim() + 2 * c.kv_dim(), c.dim};
    case LinearKind::attn_out: return {weight(w.wo), data(w.bo), c.dim, c.q_dim()};
    case LinearKind::mlp_up:
      return {weight(w.w_up), data(w.b_up), c.arch == Architecture::gpt2 ? c.hidden_dim : 2 * c.hidden_dim, c.dim};
    case LinearKind::mlp_down: return {weight(w.w_down), data(w.b_down), c.dim, c.hidden_dim};
    case LinearKind::lm_head: break;
    case LinearKind::token_embedding: break;
    case LinearKind::position_embedding: break;
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

std::size_t Model::weight_bytes() const {
  const ModelWeights& w = weights_;
  std::size_t n = w.token_embedding.size() + w.position_embedding.size() + w.final_norm.size() +
                  w.final_norm_bias.size() + w.lm_head.size();
  for (const LayerWeights& l : w.layers) {
    for (const auto* v : {&l.attn_norm, &l.attn_norm_bias, &l.wqkv, &l.bqkv, &l.wo, &l.bo, &l.ffn_norm,
                          &l.ffn_norm_bias, &l.w_up, &l.b_up, &l.w_down, &l.b_down}) {
      n += v->size();
    }
  }
  return n * sizeof(float);
}

std::size_t Model::n_parameters() const {
  std::size_t n = weight_bytes() / sizeof(float);
  for (LinearId id : absent_linears()) {
    if (id.kind == LinearKind::lm_head && config_.tied_head) continue;  // the token table, counted once
    const LinearView v = linear(id);
    n += v.n_out * v.n_in;
  }
  return n;
}

}  // namespace fhellm::model
