// The GPT-2 forward pass (learned positions, LayerNorm, GELU; Conv1D weights
// already transposed by the loaders): Session's blocks for Architecture::gpt2.
#include "model/session.h"
#include "model/block_ops.h"

#include <vector>

namespace fhellm::model {

// GPT-2, T rows at positions pos0..pos0+T-1 (x holds their token embeddings):
//   x += wpe[pos];
//   per block: xb = ln_1(x); [q k v] = xb Wqkv^T + b; x += attention Wo^T + bo;
//              xb = ln_2(x); x += gelu(xb Wfc^T + bfc) Wproj^T + bproj
// then xb[t - first_out] = ln_f(x[t]) for the rows the LM head reads.
void Session::forward_gpt2(std::size_t rows, std::size_t pos0, std::size_t first_out) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const std::size_t d = c.dim, h = c.hidden_dim;
  std::vector<TokenId> positions(rows);
  for (std::size_t t = 0; t < rows; ++t) positions[t] = static_cast<TokenId>(pos0 + t);
  proj_.resize(rows * d);
  embedding_->lookup({-1, LinearKind::position_embedding}, positions, proj_.data());  // wpe[pos]: [T, dim]
  for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const int li = static_cast<int>(l);
    for (std::size_t t = 0; t < rows; ++t) {
      layer_norm(&xb_[t * d], &x_[t * d], lw.attn_norm.data(), lw.attn_norm_bias.data(), d, c.norm_eps);
    }
    linear_->apply({li, LinearKind::qkv}, xb_.data(), rows, qkv_.data());  // [T, 3 dim]
    attention(l, rows, pos0);
    linear_->apply({li, LinearKind::attn_out}, att_out_.data(), rows, proj_.data());
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];

    for (std::size_t t = 0; t < rows; ++t) {
      layer_norm(&xb_[t * d], &x_[t * d], lw.ffn_norm.data(), lw.ffn_norm_bias.data(), d, c.norm_eps);
    }
    linear_->apply({li, LinearKind::mlp_up}, xb_.data(), rows, hb_.data());  // [T, hidden]
    for (std::size_t i = 0; i < rows * h; ++i) hb_[i] = gelu_tanh(hb_[i]);
    linear_->apply({li, LinearKind::mlp_down}, hb_.data(), rows, proj_.data());  // [T, dim]
    for (std::size_t i = 0; i < rows * d; ++i) x_[i] += proj_[i];
  }
  for (std::size_t t = first_out; t < rows; ++t) {
    layer_norm(&xb_[(t - first_out) * d], &x_[t * d], w.final_norm.data(), w.final_norm_bias.data(), d, c.norm_eps);
  }
}

}  // namespace fhellm::model
