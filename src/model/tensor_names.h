// One table of tensor names per architecture: for every tensor a forward
// pass reads (its role), its name in a Hugging Face folder, in a GGUF file,
// and in llama2.c's positional layout (where it only names the tensor in
// error messages). Every loader looks its names up here, so a new format or
// architecture is a new column or a new table, not names scattered in code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "model/config.h"

namespace fhellm::model {

enum class TensorRole : std::uint8_t {
  token_embedding,
  position_embedding,  // GPT-2
  attn_norm,
  attn_norm_bias,  // GPT-2
  q,
  k,
  v,
  qkv,       // GPT-2: one fused matrix
  qkv_bias,  // GPT-2
  attn_out,
  attn_out_bias,  // GPT-2
  ffn_norm,
  ffn_norm_bias,  // GPT-2
  gate,           // Llama
  up,
  up_bias,  // GPT-2
  down,
  down_bias,  // GPT-2
  final_norm,
  final_norm_bias,  // GPT-2
  lm_head,          // absent when tied to the embedding
  rope_freqs,       // Llama 3 GGUF: per-frequency RoPE scaling factors
};

enum class TensorFormat : std::uint8_t {
  hugging_face,  // GPT-2 names may carry a "transformer." prefix (except lm_head): the loader adds it
  gguf,
  llama2c,
};

// The name of `role` for `arch` in `format`; per-layer roles take `layer`.
// @throws Error(missing_tensor) when the format has no such tensor for the
//         architecture (a GPT-2 gate, a Hugging Face rope_freqs)
std::string tensor_name(Architecture arch, TensorFormat format, TensorRole role, std::size_t layer = 0);

}  // namespace fhellm::model
