#include "hybrid/hybrid_model_io.h"

#include "fhellm/error.h"
#include "hybrid/gguf_tokenizer.h"

namespace fhellm::hybrid {

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer_for(const std::filesystem::path& tokenizer_path,
                                                        const std::filesystem::path& model_path,
                                                        const model::Model& model) {
  const std::size_t vocab = model.config().vocab_size;
  if (!tokenizer_path.empty()) return tokenizer::load_tokenizer(tokenizer_path, vocab);
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) return tokenizer::load_tokenizer(model_path, vocab);
  // A GGUF file carries its own vocabulary.
  if (model_path.extension() == ".gguf") return load_gguf_tokenizer(model_path);
  const auto dir = model_path.parent_path().empty() ? std::filesystem::path(".") : model_path.parent_path();
  std::string tried;
  for (const std::string& name :
       {std::string("tokenizer.bin"), std::string("tokenizer.model"), std::string("tokenizer.json"),
        "tok" + std::to_string(vocab) + ".bin"}) {
    const auto p = dir / name;
    if (std::filesystem::exists(p, ec)) return tokenizer::load_tokenizer(p, vocab);
    tried += (tried.empty() ? "" : ", ") + p.string();
  }
  throw Error(ErrorCode::file_not_found, "no tokenizer given (--tokenizer) and none found: tried " + tried);
}

std::vector<TokenId> encode_prompt(const tokenizer::Tokenizer& tok, const model::Model& model,
                                              const std::string& text) {
  const bool llama = model.config().arch == model::Architecture::llama;
  std::vector<TokenId> ids = text.empty() && !llama ? std::vector<TokenId>{}
                                                               : tok.encode(text, llama);
  if (ids.empty()) {
    TokenId start = model.config().bos_id >= 0 ? model.config().bos_id : tok.bos_id();
    if (start < 0) start = tok.eos_id();
    require(start >= 0, ErrorCode::invalid_argument, "empty prompt and the vocabulary has no BOS/EOS to start from");
    ids.push_back(start);
  }
  return ids;
}

std::vector<TokenId> encode_document(const tokenizer::Tokenizer& tok, const model::Model& model,
                                                const std::string& text) {
  return encode_prompt(tok, model, text);
}

}  // namespace fhellm::hybrid
