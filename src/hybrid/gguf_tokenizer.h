// The tokenizer a GGUF file embeds, as a tokenizer::Tokenizer: the glue
// between the model layer (which reads the GGUF vocabulary) and the
// tokenizer layer (which builds tokenizers), which do not know each other.
#pragma once

#include <filesystem>
#include <memory>

#include "model/gguf.h"
#include "tokenizer/ggml_vocab.h"
#include "tokenizer/tokenizer.h"

namespace fhellm::hybrid {

// The vocabulary fields of `file` as the tokenizer layer takes them (what a
// client artifact carries as tokenizer.ggml-vocab.json).
// @throws Error(bad_tokenizer_file) when the file embeds no tokenizer
tokenizer::GgmlVocab read_gguf_tokenizer_vocab(const model::GgufFile& file);

// @throws Error(bad_tokenizer_file) when the file embeds no tokenizer or an
//         unsupported one (tokenizer.ggml.model other than "llama", "gpt2")
std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const model::GgufFile& file);

// @throws as GgufFile's constructor and the overload above
std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const std::filesystem::path& path);

}  // namespace fhellm::hybrid
