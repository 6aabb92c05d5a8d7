#include "model/session.h"

#include <cstring>
#include <string>

#include "fhellm/error.h"

namespace fhellm::model {

Session::Session(std::shared_ptr<const Model> model, LinearOps& linear, std::size_t max_context,
                 EmbeddingOps* embedding)
    : model_(std::move(model)),
      linear_(&linear),
      float_embedding_(*model_),
      embedding_(embedding != nullptr ? embedding : &float_embedding_) {
  const ModelConfig& c = model_->config();
  key_cache_.resize(c.n_layers);
  value_cache_.resize(c.n_layers);
  reserve(max_context == 0 ? c.context : max_context);
}

void Session::rebind(LinearOps& linear, EmbeddingOps* embedding) {
  linear_ = &linear;
  embedding_ = embedding != nullptr ? embedding : &float_embedding_;
}

void Session::rewind(std::size_t p) {
  require(p <= position_, ErrorCode::invalid_argument,
          "rewind: position " + std::to_string(p) + " past the " + std::to_string(position_) + " filled");
  position_ = p;
}

void Session::reserve(std::size_t max_context) {
  const ModelConfig& c = model_->config();
  require(max_context <= c.context, ErrorCode::bad_config,
          "session context " + std::to_string(max_context) + " exceeds the model's " + std::to_string(c.context));
  if (max_context <= max_context_) return;
  // Position-major rows: growing each layer's array keeps positions 0.. in place.
  for (auto& k : key_cache_) k.resize(max_context * c.kv_dim());
  for (auto& v : value_cache_) v.resize(max_context * c.kv_dim());
  scores_.resize(c.n_heads * max_context);
  max_context_ = max_context;
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

  // x[t] = token embedding (one lookup for the call's rows); the
  // architecture's pass adds what else it needs (GPT-2's learned positions),
  // runs the blocks and the final norm.
  embedding_->lookup({-1, LinearKind::token_embedding}, tokens, x_.data());
  const std::size_t first_out = all_logits ? 0 : rows - 1;  // the LM head runs for these rows only
  if (c.arch == Architecture::gpt2) {
    forward_gpt2(rows, position_, first_out);
  } else {
    forward_llama(rows, position_, first_out);
  }
  std::vector<float> logits = head(rows - first_out);
  position_ += rows;
  return logits;
}

// logits[n, vocab] = xb[0..n) W_head^T (xb: the final norm of the last n rows).
std::vector<float> Session::head(std::size_t n) {
  std::vector<float> logits(n * model_->config().vocab_size);
  linear_->apply({-1, LinearKind::lm_head}, xb_.data(), n, logits.data());
  return logits;
}

}  // namespace fhellm::model
