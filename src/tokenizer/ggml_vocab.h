// Tokenizers from the vocabulary a GGUF file embeds (keys tokenizer.ggml.*).
// The tokenizer layer does not read GGUF itself (the model layer does, see
// model/gguf.h); whoever holds both copies the fields across:
//
//   model::GgufFile file(path);
//   const model::GgufVocab v = model::read_gguf_vocab(file);
//   tokenizer::GgmlVocab t{v.model, v.pre, v.tokens, v.scores, v.token_types, v.merges, v.bos, v.eos};
//   auto tok = tokenizer::tokenizer_from_ggml_vocab(t);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fhellm::tokenizer {

// ggml token types (tokenizer.ggml.token_type).
enum class GgmlTokenType : std::int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct GgmlVocab {
  std::string model;                      // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;                        // tokenizer.ggml.pre: "llama-bpe" / "llama3" pick Llama 3's split
  std::vector<std::string> tokens;        // tokenizer.ggml.tokens
  std::vector<float> scores;              // tokenizer.ggml.scores ("llama"; may be empty for "gpt2")
  std::vector<std::int32_t> token_types;  // tokenizer.ggml.token_type (may be empty)
  std::vector<std::string> merges;        // tokenizer.ggml.merges ("gpt2"): "left right"
  TokenId bos = -1;                       // tokenizer.ggml.bos_token_id
  TokenId eos = -1;                       // tokenizer.ggml.eos_token_id
};

// "llama": a Llama2cTokenizer ("▁" read as a space; control and unused
// tokens never match text). "gpt2": a ByteBpeTokenizer (control and
// user-defined tokens become added tokens).
// @throws Error(bad_tokenizer_file) for another model or inconsistent arrays
std::unique_ptr<Tokenizer> tokenizer_from_ggml_vocab(const GgmlVocab& vocab);

// A GgmlVocab as a JSON file of its own ({"fhellm_ggml_vocab": 1, "model",
// "pre", "tokens", "scores", "token_types", "merges", "bos", "eos"}), the way
// a client artifact carries a GGUF's tokenizer: load_tokenizer reads a file
// named *.ggml-vocab.json.
std::string ggml_vocab_to_json(const GgmlVocab& vocab);
// @throws Error(bad_tokenizer_file) naming `name`
GgmlVocab ggml_vocab_from_json(const std::string& text, const std::string& name);

}  // namespace fhellm::tokenizer
