// Session: the mutable per-user state of a generation (KV cache, position,
// scratch buffers) over a shared immutable Model. Not thread-safe; one per
// user. The linear layers run through the LinearOps given at construction,
// the table lookups through its EmbeddingOps (the model's float tables when
// none is given).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/token_id.h"
#include "model/embedding.h"
#include "model/linear.h"
#include "model/model.h"

namespace fhellm::model {

class Session {
 public:
  // `linear` (and `embedding`, when given) must outlive the session.
  // `max_context` (0 = the model's) bounds the KV cache.
  // @throws Error(bad_config) if above the model's context
  Session(std::shared_ptr<const Model> model, LinearOps& linear, std::size_t max_context = 0,
          EmbeddingOps* embedding = nullptr);
  // It may point at its own float table: not copied or moved (hold it by pointer).
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the tokens at positions position() .. position()+T-1 (prefill when
  // T > 1), appending them to the KV cache. Returns the logits of the last
  // row ([vocab]) or, with all_logits, of every row ([T, vocab]).
  // @throws Error(context_overflow) past the context,
  //         Error(unknown_token) for an id outside the vocabulary
  std::vector<float> forward(std::span<const TokenId> tokens, bool all_logits = false);

  std::size_t position() const { return position_; }
  std::size_t max_context() const { return max_context_; }
  void reset() { position_ = 0; }

  // A cache kept across calls (hybrid::GenerateOptions::reuse_prefix):
  // later forwards run through these ops (`embedding` null: the model's
  // float table) ...
  void rebind(LinearOps& linear, EmbeddingOps* embedding = nullptr);
  // ... from position p: positions p..position()-1 are forgotten.
  // @throws Error(invalid_argument) for p past position()
  void rewind(std::size_t p);
  // Grows the cache to max_context positions (no-op when it holds them),
  // keeping the filled ones. @throws Error(bad_config) past the model's context
  void reserve(std::size_t max_context);
  const Model& model() const { return *model_; }

 private:
  // The blocks and final norm of one architecture over the `rows` rows of
  // x_ (token embeddings at positions pos0..), leaving the final norm of rows
  // first_out.. in xb_. llama.cpp, gpt2.cpp.
  void forward_llama(std::size_t rows, std::size_t pos0, std::size_t first_out);
  void forward_gpt2(std::size_t rows, std::size_t pos0, std::size_t first_out);
  // attention.cpp: appends the rows' K, V to the cache; att_out_ = softmax(q K^T / sqrt(hd)) V.
  void attention(std::size_t layer, std::size_t rows, std::size_t pos0);
  // The LM head over the first n rows of xb_: logits [n, vocab].
  std::vector<float> head(std::size_t n);

  std::shared_ptr<const Model> model_;
  LinearOps* linear_;
  FloatEmbedding float_embedding_;
  EmbeddingOps* embedding_;
  std::size_t max_context_ = 0;
  std::size_t position_ = 0;
  // KV cache: per layer [max_context, kv_dim].
  std::vector<std::vector<float>> key_cache_, value_cache_;
  // Scratch, sized for the current call: x residual [T, dim], xb normed
  // [T, dim], qkv [T, q+2kv], att_out [T, q_dim], mlp [T, 2 hidden],
  // hb [T, hidden], proj [T, dim], scores [n_heads, ctx].
  std::vector<float> x_, xb_, qkv_, att_out_, mlp_, hb_, proj_, scores_;
};

}  // namespace fhellm::model
