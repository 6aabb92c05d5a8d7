// ModelConfig: the shape of a transformer, everything a forward pass needs
// besides the weights. Light value type; `validate()` checks it once at load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fhellm::model {

enum class Architecture : std::uint8_t {
  gpt2 = 1,   // LayerNorm, learned positions, GELU (tanh), biases, tied head
  llama = 2,  // RMSNorm, RoPE, SwiGLU, grouped-query attention, no biases
};

// How RoPE pairs the dimensions of a head.
enum class RopeStyle : std::uint8_t {
  interleaved = 1,  // pairs (2i, 2i+1): Meta / llama2.c / GGUF layout
  half = 2,         // pairs (i, i + head_dim/2): Hugging Face layout (rotate_half)
};

// Llama 3 "rope_scaling" (rope_type "llama3"): long wavelengths are divided
// by `factor`, short ones kept, the band between interpolated smoothly.
struct RopeScaling {
  bool enabled = false;
  float factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  std::size_t original_context = 8192;  // original_max_position_embeddings
};

struct ModelConfig {
  Architecture arch = Architecture::llama;
  std::size_t dim = 0;         // model width (n_embd / hidden_size)
  std::size_t hidden_dim = 0;  // MLP inner width (n_inner / intermediate_size)
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;  // == n_heads for GPT-2
  std::size_t head_dim = 0;    // usually dim / n_heads
  std::size_t vocab_size = 0;
  std::size_t context = 0;     // maximum positions (seq_len / n_positions)
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeStyle rope_style = RopeStyle::interleaved;
  RopeScaling rope_scaling;
  bool tied_head = true;       // LM head shares the token embedding
  std::int32_t bos_id = -1;
  std::int32_t eos_id = -1;

  std::size_t q_dim() const { return n_heads * head_dim; }
  std::size_t kv_dim() const { return n_kv_heads * head_dim; }

  // Checks every dimension is positive, divisible as needed and below hard
  // maxima (so a hostile header cannot make us allocate terabytes).
  // @throws Error(bad_config) naming the field and its value
  void validate() const;
};

std::string_view architecture_name(Architecture arch);
// @throws Error(unsupported_architecture)
Architecture parse_architecture(std::string_view name);

}  // namespace fhellm::model
