// Model loaders: read a file or folder, check every offset and size, fill a
// ModelConfig + ModelWeights and hand them to Model::create.
//
// llama2.c legacy checkpoint (.bin), all little-endian:
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     (vocab_size < 0: the classifier is stored separately, |vocab_size| entries)
//   float32 token_embedding [vocab, dim]
//   float32 rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
//           wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim],
//           w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim],
//           rms_final [dim], freq_cis_real [seq, head/2], freq_cis_imag [seq, head/2]
//   float32 wcls [vocab, dim]                    only when vocab_size < 0
//   RMSNorm eps 1e-5, RoPE theta 10000, interleaved pairs.
//
// llama2.c versioned exports (export.py --version 1 / 2): a 256-byte header
//   uint32 magic 0x616b3432 ("ak42"), int32 version (1 or 2),
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
//   uint8 shared_classifier, version 2: int32 group_size; zeros to byte 256.
// Version 1 (float32): rms_att [L, dim], rms_ffn [L, dim], rms_final [dim],
//   token_embedding [vocab, dim], wq, wk, wv, wo, w1, w2, w3 (per layer, as
//   above), wcls [vocab, dim] unless shared. No freq_cis.
// Version 2 (Q8_0): the three norms in float32 as version 1, then for each
//   of token_embedding, wq[0..L), wk[0..L), wv[0..L), wo[0..L), w1[0..L),
//   w2[0..L), w3[0..L), wcls (unless shared): int8 values [n], then float32
//   scales [n / group_size]; value i is q[i] * scale[i / group_size].
//   Loaded dequantized to float32.
//
// Hugging Face folder: config.json (model_type "gpt2" or "llama"), and
// model.safetensors or model.safetensors.index.json {"weight_map": {tensor:
// file}} with its shards (see safetensors.h). Tensors F32, F16 or BF16.
//   GPT-2 names ("transformer." prefix optional): wte, wpe, h.N.ln_1,
//   h.N.attn.c_attn, h.N.attn.c_proj, h.N.ln_2, h.N.mlp.c_fc, h.N.mlp.c_proj,
//   ln_f; Conv1D weights are stored [in, out] and transposed here; the
//   attn.bias / attn.masked_bias buffers are ignored.
//   Llama names: model.embed_tokens, model.layers.N.{input_layernorm,
//   self_attn.{q,k,v,o}_proj, post_attention_layernorm,
//   mlp.{gate,up,down}_proj}, model.norm, lm_head (absent when tied).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "model/model.h"

namespace fhellm::model {

// Picks the format from the path: a directory -> Hugging Face; *.gguf ->
// GGUF; otherwise a llama2.c checkpoint.
// @throws Error(file_not_found, bad_model_file, truncated, missing_tensor,
//         tensor_shape_mismatch, unsupported_architecture, unsupported_dtype, bad_config)
std::shared_ptr<const Model> load_model(const std::filesystem::path& path);

// @throws as load_model
std::shared_ptr<const Model> load_llama2c(const std::filesystem::path& file);
// @throws as load_model
std::shared_ptr<const Model> load_hf_folder(const std::filesystem::path& dir);

// Parses a Hugging Face config.json text. @throws Error(bad_config, unsupported_architecture)
ModelConfig parse_hf_config(const std::string& json_text);

// Named shapes of real models, for benchmarks with random weights:
// "gpt2-124m", "llama-3.2-1b", "stories260k". @throws Error(invalid_argument)
ModelConfig shape_preset(const std::string& name);

// Random weights of `config`'s shape (seeded, deterministic): linear weights
// uniform with the scale of a trained model's init, norms 1, biases small.
std::shared_ptr<const Model> random_model(const ModelConfig& config, std::uint64_t seed);

}  // namespace fhellm::model
