#include "hybrid/hybrid_model_io.h"

#include "fhellm/error.h"
#include "hybrid/gguf_tokenizer.h"

namespace fhellm::hybrid {

void check_tokenizer_matches(const tokenizer::Tokenizer& tok, const model::Model& model, const std::string& name) {
  const model::ModelConfig& c = model.config();
  const std::string which = "tokenizer '" + name + "'";
  // A model may pad its embedding past the tokenizer's last id (Qwen, Phi: a
  // few hundred rows); a tokenizer with more ids, or far fewer, is another model's.
  require(tok.vocab_size() <= c.vocab_size && c.vocab_size - tok.vocab_size() <= c.vocab_size / 8,
          ErrorCode::tokenizer_mismatch,
          which + " has " + std::to_string(tok.vocab_size()) + " tokens, the model " + std::to_string(c.vocab_size) +
              ": they do not belong together");
  auto same_special = [&](int model_id, int tok_id, const char* what) {
    require(model_id < 0 || tok_id < 0 || model_id == tok_id, ErrorCode::tokenizer_mismatch,
            which + ": " + what + " is id " + std::to_string(tok_id) + ", the model's is " + std::to_string(model_id));
  };
  same_special(c.bos_id, tok.bos_id(), "BOS");
  same_special(c.eos_id, tok.eos_id(), "EOS");
  // A round trip: text -> ids -> text, every id inside the model's vocabulary.
  const std::string probe = "Hello, world! Once upon a time 123.";
  const std::vector<TokenId> ids = tok.encode(probe, false);
  for (const TokenId id : ids) {
    require(id >= 0 && static_cast<std::size_t>(id) < c.vocab_size, ErrorCode::tokenizer_mismatch,
            which + " encodes text to id " + std::to_string(id) + ", outside the model's " +
                std::to_string(c.vocab_size) + " tokens");
  }
  std::string back = tok.decode(ids);
  back.erase(0, back.find_first_not_of(' '));  // SentencePiece's dummy prefix
  require(back == probe, ErrorCode::tokenizer_mismatch,
          which + " does not give back the text it encodes ('" + probe + "' -> '" + back + "')");
}

namespace {

std::unique_ptr<tokenizer::Tokenizer> find_tokenizer(const std::filesystem::path& tokenizer_path,
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

}  // namespace

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer_for(const std::filesystem::path& tokenizer_path,
                                                        const std::filesystem::path& model_path,
                                                        const model::Model& model) {
  auto tok = find_tokenizer(tokenizer_path, model_path, model);
  check_tokenizer_matches(*tok, model, (tokenizer_path.empty() ? model_path : tokenizer_path).string());
  return tok;
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
