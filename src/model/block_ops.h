// The element-wise pieces of a transformer block, shared by the forward
// passes (gpt2.cpp, llama.cpp): norms, activations, rotary embeddings.
// Inline: they run per row inside the block loops.
#pragma once

#include <cmath>
#include <cstddef>

#include "model/config.h"

namespace fhellm::model {

// out[i] = w[i] * x[i] / sqrt(mean(x^2) + eps)   (Llama RMSNorm)
inline void rms_norm(float* out, const float* x, const float* w, std::size_t n, float eps) {
  float ss = 0.0f;
  for (std::size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (std::size_t i = 0; i < n; ++i) out[i] = w[i] * (scale * x[i]);
}

// out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i]   (GPT-2 LayerNorm)
inline void layer_norm(float* out, const float* x, const float* w, const float* b, std::size_t n, float eps) {
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

// SiLU (swish): x * sigmoid(x), the gate of Llama's SwiGLU.
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

// Rotates the head_dim-wide vectors of `n_heads` heads at `v` by the angles
// pos * inv_freq (given as cos/sin tables of head_dim/2 entries).
inline void apply_rope(float* v, std::size_t n_heads, std::size_t head_dim, RopeStyle style, const float* cos_t,
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

}  // namespace fhellm::model
