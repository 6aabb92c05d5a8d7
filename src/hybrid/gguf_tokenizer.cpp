#include "hybrid/gguf_tokenizer.h"

#include "fhellm/error.h"

namespace fhellm::hybrid {

tokenizer::GgmlVocab read_gguf_tokenizer_vocab(const model::GgufFile& file) {
  const model::GgufVocab v = model::read_gguf_vocab(file);
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
  return t;
}

std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const model::GgufFile& file) {
  return tokenizer::tokenizer_from_ggml_vocab(read_gguf_tokenizer_vocab(file));
}

std::unique_ptr<tokenizer::Tokenizer> load_gguf_tokenizer(const std::filesystem::path& path) {
  return load_gguf_tokenizer(model::GgufFile(path));
}

}  // namespace fhellm::hybrid
