// ModelWeights: the float tensors of a transformer, in the layout the forward
// passes use. Every loader (llama2.c, Hugging Face safetensors, GGUF) and the
// random-weight generator fills this same structure, then hands it to
// Model::create, which checks every shape against the ModelConfig.
//
// Layout (all row-major float32, linear weights stored [out, in]):
//   token_embedding     [vocab, dim]
//   position_embedding  [context, dim]            GPT-2 only, empty for Llama
//   per layer:
//     attn_norm (+_bias)  [dim]                   bias: GPT-2 only
//     wqkv                [q_dim + 2 kv_dim, dim]  rows: Q, then K, then V
//     bqkv                [q_dim + 2 kv_dim]       GPT-2 only
//     wo, bo              [dim, q_dim], [dim]
//     ffn_norm (+_bias)   [dim]
//     w_up, b_up          GPT-2: c_fc [hidden, dim]; Llama: gate rows then
//                         up rows [2 hidden, dim] (one fused call)
//     w_down, b_down      [dim, hidden], [dim]
//   final_norm (+_bias)   [dim]
//   lm_head               [vocab, dim]; empty when the head is tied
// Empty vectors mean "absent" (no bias, tied head).
#pragma once

#include <vector>

namespace fhellm::model {

struct LayerWeights {
  std::vector<float> attn_norm, attn_norm_bias;
  std::vector<float> wqkv, bqkv;
  std::vector<float> wo, bo;
  std::vector<float> ffn_norm, ffn_norm_bias;
  std::vector<float> w_up, b_up;
  std::vector<float> w_down, b_down;
};

struct ModelWeights {
  std::vector<float> token_embedding;
  std::vector<float> position_embedding;
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm, final_norm_bias;
  std::vector<float> lm_head;
};

}  // namespace fhellm::model
