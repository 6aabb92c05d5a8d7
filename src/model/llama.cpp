// The Llama forward pass (RMSNorm, RoPE, grouped-query attention, SwiGLU):
// Session's blocks for Architecture::llama.
#include <cmath>
#include <vector>

#include "model/session.h"
#include "model/block_ops.h"

namespace fhellm::model {

// Llama block, T rows at positions pos0..pos0+T-1 (x holds their token embeddings):
//   xb = rmsnorm(x); [q k v] = xb Wqkv^T; rope(q, k); att = attention(q, K, V)
//   x += att Wo^T; xb = rmsnorm(x); [g u] = xb Wup^T; x += (silu(g) * u) Wdown^T
// then xb[t - first_out] = rmsnorm_final(x[t]) for the rows the LM head reads.
void Session::forward_llama(std::size_t rows, std::size_t pos0, std::size_t first_out) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const std::size_t d = c.dim, hd = c.head_dim, h = c.hidden_dim, qkv = c.q_dim() + 2 * c.kv_dim();
  const auto& inv_freq = model_->rope_inv_freq();
  std::vector<float> cos_t(hd / 2), sin_t(hd / 2);

  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const int li = static_cast<int>(l);
    for (std::size_t t = 0; t < rows; ++t) rms_norm(&xb_[t * d], &x_[t * d], lw.attn_norm.data(), d, c.norm_eps);
    linear_->apply({li, LinearKind::qkv}, xb_.data(), rows, qkv_.data());  // [T, q + 2 kv]
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
    linear_->apply({li, LinearKind::attn_out}, att_out_.data(), rows, proj_.data());  // [T, dim]
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];

    for (std::size_t t = 0; t < rows; ++t) rms_norm(&xb_[t * d], &x_[t * d], lw.ffn_norm.data(), d, c.norm_eps);
    linear_->apply({li, LinearKind::mlp_up}, xb_.data(), rows, mlp_.data());  // [T, 2 hidden]: gate, up
    for (std::size_t t = 0; t < rows; ++t) {
      const float* gate = &mlp_[t * 2 * h];
      const float* up = gate + h;
      float* out = &hb_[t * h];
      for (std::size_t i = 0; i < h; ++i) out[i] = silu(gate[i]) * up[i];
    }
    linear_->apply({li, LinearKind::mlp_down}, hb_.data(), rows, proj_.data());  // [T, dim]
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];
  }
  for (std::size_t t = first_out; t < rows; ++t) {
    rms_norm(&xb_[(t - first_out) * d], &x_[t * d], w.final_norm.data(), d, c.norm_eps);
  }
}

}  // namespace fhellm::model
