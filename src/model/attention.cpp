// Causal self-attention over the KV cache, shared by both architectures.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/thread_pool.h"
#include "model/session.h"

namespace fhellm::model {

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

}  // namespace fhellm::model
