#include "fhellm/model/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "fhellm/model/parallel.h"

namespace fhellm::model {
namespace {

// out[i] = w[i] * x[i] / sqrt(mean(x^2) + eps)   (Llama RMSNorm)
void rms_norm(float* out, const float* x, const float* w, std::size_t n, float eps) {
  float ss = 0.0f;
  for (std::size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (std::size_t i = 0; i < n; ++i) out[i] = w[i] * (scale * x[i]);
}

// out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i]   (GPT-2 LayerNorm)
void layer_norm(float* out, const float* x, const float* w, const float* b, std::size_t n, float eps) {
  double mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (std::size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float m = static_cast<float>(mean);
  for (std::size_t i = 0; i < n; ++i) out[i] = (x[i] - m) * inv * w[i] + b[i];
}

// GELU, tanh approximation (GPT-2's "gelu_new").
inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// Rotates the head_dim-wide vectors of `n_heads` heads at `v` by the angles
// pos * inv_freq (given as cos/sin tables of head_dim/2 entries).
void apply_rope(float* v, std::size_t n_heads, std::size_t head_dim, RopeStyle style, const float* cos_t,
                const float* sin_t) {
  const std::size_t half = head_dim / 2;
  for (std::size_t h = 0; h < n_heads; ++h) {
    float* hv = v + h * head_dim;
    for (std::size_t i = 0; i < half; ++i) {
      const std::size_t a = style == RopeStyle::interleaved ? 2 * i : i;
      const std::size_t b = style == RopeStyle::interleaved ? 2 * i + 1 : i + half;
      const float x0 = hv[a], x1 = hv[b];
      hv[a] = x0 * cos_t[i] - x1 * sin_t[i];
      hv[b] = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, LinearOps& linear, std::size_t max_context)
    : model_(std::move(model)), linear_(linear) {
  const ModelConfig& c = model_->config();
  max_context_ = max_context == 0 ? c.context : max_context;
  require(max_context_ <= c.context, ErrorCode::bad_config,
          "session context " + std::to_string(max_context_) + " exceeds the model's " + std::to_string(c.context));
  key_cache_.assign(c.n_layers, std::vector<float>(max_context_ * c.kv_dim()));
  value_cache_.assign(c.n_layers, std::vector<float>(max_context_ * c.kv_dim()));
  scores_.resize(c.n_heads * max_context_);
}

std::vector<float> Session::forward(std::span<const TokenId> tokens, bool all_logits) {
  const ModelConfig& c = model_->config();
  const std::size_t rows = tokens.size();
  require(rows > 0, ErrorCode::invalid_argument, "forward: no tokens");
  if (position_ + rows > max_context_) {
    throw Error(ErrorCode::context_overflow, "forward: positions " + std::to_string(position_) + " + " +
                                                 std::to_string(rows) + " tokens exceed the context of " +
                                                 std::to_string(max_context_));
  }
  for (TokenId t : tokens) {
    if (t < 0 || static_cast<std::size_t>(t) >= c.vocab_size) {
      throw Error(ErrorCode::unknown_token, "forward: token id " + std::to_string(t) +
                                                " outside the vocabulary of " + std::to_string(c.vocab_size));
    }
  }
  const std::size_t d = c.dim, qkv = c.q_dim() + 2 * c.kv_dim();
  x_.resize(rows * d);
  xb_.resize(rows * d);
  qkv_.resize(rows * qkv);
  att_out_.resize(rows * c.q_dim());
  mlp_.resize(rows * 2 * c.hidden_dim);
  hb_.resize(rows * c.hidden_dim);
  proj_.resize(rows * d);

  // x[t] = token embedding (+ learned position for GPT-2).
  const ModelWeights& w = model_->weights();
  for (std::size_t t = 0; t < rows; ++t) {
    std::memcpy(&x_[t * d], &w.token_embedding[static_cast<std::size_t>(tokens[t]) * d], d * sizeof(float));
    if (c.arch == Architecture::gpt2) {
      const float* pe = &w.position_embedding[(position_ + t) * d];
      for (std::size_t i = 0; i < d; ++i) x_[t * d + i] += pe[i];
    }
  }
  if (c.arch == Architecture::gpt2) {
    forward_gpt2(rows, position_);
  } else {
    forward_llama(rows, position_);
  }
  std::vector<float> logits = head(rows, all_logits);
  position_ += rows;
  return logits;
}

// Llama block, T rows at positions pos0..pos0+T-1:
//   xb = rmsnorm(x); [q k v] = xb Wqkv^T; rope(q, k); att = attention(q, K, V)
//   x += att Wo^T; xb = rmsnorm(x); [g u] = xb Wup^T; x += (silu(g) * u) Wdown^T
void Session::forward_llama(std::size_t rows, std::size_t pos0) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const std::size_t d = c.dim, hd = c.head_dim, h = c.hidden_dim, qkv = c.q_dim() + 2 * c.kv_dim();
  const auto& inv_freq = model_->rope_inv_freq();
  std::vector<float> cos_t(hd / 2), sin_t(hd / 2);

  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const int li = static_cast<int>(l);
    for (std::size_t t = 0; t < rows; ++t) rms_norm(&xb_[t * d], &x_[t * d], lw.attn_norm.data(), d, c.norm_eps);
    linear_.apply({li, LinearKind::qkv}, xb_.data(), rows, qkv_.data());  // [T, q + 2 kv]
    for (std::size_t t = 0; t < rows; ++t) {
      const float pos = static_cast<float>(pos0 + t);
      for (std::size_t i = 0; i < hd / 2; ++i) {
        const float angle = pos * inv_freq[i];
        cos_t[i] = std::cos(angle);
        sin_t[i] = std::sin(angle);
      }
      float* row = &qkv_[t * qkv];
      apply_rope(row, c.n_heads, hd, c.rope_style, cos_t.data(), sin_t.data());
      apply_rope(row + c.q_dim(), c.n_kv_heads, hd, c.rope_style, cos_t.data(), sin_t.data());
    }
    attention(l, rows, pos0);
    linear_.apply({li, LinearKind::attn_out}, att_out_.data(), rows, proj_.data());  // [T, dim]
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];

    for (std::size_t t = 0; t < rows; ++t) rms_norm(&xb_[t * d], &x_[t * d], lw.ffn_norm.data(), d, c.norm_eps);
    linear_.apply({li, LinearKind::mlp_up}, xb_.data(), rows, mlp_.data());  // [T, 2 hidden]: gate, up
    for (std::size_t t = 0; t < rows; ++t) {
      const float* gate = &mlp_[t * 2 * h];
      const float* up = gate + h;
      float* out = &hb_[t * h];
      for (std::size_t i = 0; i < h; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    }
    linear_.apply({li, LinearKind::mlp_down}, hb_.data(), rows, proj_.data());  // [T, dim]
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];
  }
}

// GPT-2 block: xb = ln_1(x); [q k v] = xb Wqkv^T + b; x += attention Wo^T + bo;
//              xb = ln_2(x); x += gelu(xb Wfc^T + bfc) Wproj^T + bproj
void Session::forward_gpt2(std::size_t rows, std::size_t pos0) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const std::size_t d = c.dim, h = c.hidden_dim;
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const int li = static_cast<int>(l);
    for (std::size_t t = 0; t < rows; ++t) {
      layer_norm(&xb_[t * d], &x_[t * d], lw.attn_norm.data(), lw.attn_norm_bias.data(), d, c.norm_eps);
    }
    linear_.apply({li, LinearKind::qkv}, xb_.data(), rows, qkv_.data());  // [T, 3 dim]
    attention(l, rows, pos0);
    linear_.apply({li, LinearKind::attn_out}, att_out_.data(), rows, proj_.data());
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];

    for (std::size_t t = 0; t < rows; ++t) {
      layer_norm(&xb_[t * d], &x_[t * d], lw.ffn_norm.data(), lw.ffn_norm_bias.data(), d, c.norm_eps);
    }
    linear_.apply({li, LinearKind::mlp_up}, xb_.data(), rows, hb_.data());  // [T, hidden]
    for (std::size_t i = 0; i < rows * h; ++i) hb_[i] = gelu_tanh(hb_[i]);
    linear_.apply({li, LinearKind::mlp_down}, hb_.data(), rows, proj_.data());
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];
  }
}

// Causal multi-head attention with grouped KV heads. Appends the rows' K and
// V to the cache, then for row t (position p = pos0 + t) and head hh:
//   att_out[t, hh] = softmax(q . K[0..p] / sqrt(hd)) V[0..p]
void Session::attention(std::size_t layer, std::size_t rows, std::size_t pos0) {
  const ModelConfig& c = model_->config();
  const std::size_t hd = c.head_dim, kv = c.kv_dim(), qd = c.q_dim(), qkv = qd + 2 * kv;
  const std::size_t group = c.n_heads / c.n_kv_heads;
  float* kc = key_cache_[layer].data();
  float* vc = value_cache_[layer].data();
  for (std::size_t t = 0; t < rows; ++t) {
    std::memcpy(kc + (pos0 + t) * kv, &qkv_[t * qkv + qd], kv * sizeof(float));
    std::memcpy(vc + (pos0 + t) * kv, &qkv_[t * qkv + qd + kv], kv * sizeof(float));
  }
  const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::size_t n_tasks = rows * c.n_heads;
  // Rough work per task, to decide whether threads pay off.
  const std::size_t min_chunk = std::max<std::size_t>(1, 16384 / ((pos0 + rows) * hd + 1));
  parallel_for(n_tasks, min_chunk, [&](std::size_t begin, std::size_t end) {
    std::vector<float> local;
    float* scores;
    if (end - begin == n_tasks) {
      scores = scores_.data();  // single chunk: reuse the session buffer
    } else {
      local.resize(max_context_);
      scores = local.data();
    }
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t t = task / c.n_heads, hh = task % c.n_heads;
      const std::size_t n_pos = pos0 + t + 1;
      const float* q = &qkv_[t * qkv + hh * hd];
      const std::size_t koff = (hh / group) * hd;
      float max_score = -INFINITY;
      for (std::size_t p = 0; p < n_pos; ++p) {
        const float* k = kc + p * kv + koff;
        float s = 0.0f;
        for (std::size_t i = 0; i < hd; ++i) s += q[i] * k[i];
        s *= inv_sqrt;
        scores[p] = s;
        max_score = std::max(max_score, s);
      }
      float sum = 0.0f;
      for (std::size_t p = 0; p < n_pos; ++p) {
        scores[p] = std::exp(scores[p] - max_score);
        sum += scores[p];
      }
      const float inv_sum = 1.0f / sum;
      float* out = &att_out_[t * qd + hh * hd];
      std::fill(out, out + hd, 0.0f);
      for (std::size_t p = 0; p < n_pos; ++p) {
        const float a = scores[p] * inv_sum;
        const float* v = vc + p * kv + koff;
        for (std::size_t i = 0; i < hd; ++i) out[i] += a * v[i];
      }
    }
  });
}

std::vector<float> Session::head(std::size_t rows, bool all_logits) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const std::size_t d = c.dim;
  const std::size_t first = all_logits ? 0 : rows - 1;
  const std::size_t n = rows - first;
  for (std::size_t t = first; t < rows; ++t) {
    float* out = &xb_[(t - first) * d];
    if (c.arch == Architecture::gpt2) {
      layer_norm(out, &x_[t * d], w.final_norm.data(), w.final_norm_bias.data(), d, c.norm_eps);
    } else {
      rms_norm(out, &x_[t * d], w.final_norm.data(), d, c.norm_eps);
    }
  }
  std::vector<float> logits(n * c.vocab_size);
  linear_.apply({-1, LinearKind::lm_head}, xb_.data(), n, logits.data());
  return logits;
}

}  // namespace fhellm::model
