// The tokenizer a GGUF file embeds, as a fhellm::tokenizer::Tokenizer.
//
// Header-only glue for code that links both fhellm_model and
// fhellm_tokenizer (hybrid, tools, tests): the model library itself stays
// independent of the tokenizer library, as the layering requires.
#pragma once

#include <filesystem>
#include <memory>

#include "fhellm/error.h"
#include "fhellm/model/gguf.h"
#include "fhellm/tokenizer/ggml_vocab.h"

namespace fhellm::model {

// @throws Error(bad_tokenizer_file) when the file embeds no tokenizer or an
//         unsupported one (tokenizer.ggml.model other than "llama", "gpt2")
inline std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const GgufFile& file) {
  const GgufVocab v = read_gguf_vocab(file);
  require(!v.model.empty(), ErrorCode::bad_tokenizer_file, "the GGUF file embeds no tokenizer (tokenizer.ggml.model)");
  tokenizer::GgmlVocab t;
  t.model = v.model;
  t.pre = v.pre;
  t.tokens = v.tokens;
  t.scores = v.scores;
  t.token_types = v.token_types;
  t.merges = v.merges;
  t.bos = v.bos;
  t.eos = v.eos;
  return tokenizer::tokenizer_from_ggml_vocab(t);
}

// @throws as GgufFile's constructor and the overload above
inline std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const std::filesystem::path& path) {
  return load_gguf_tokenizer(GgufFile(path));
}

}  // namespace fhellm::model
