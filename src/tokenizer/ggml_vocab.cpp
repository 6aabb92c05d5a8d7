#include "tokenizer/ggml_vocab.h"

#include "fhellm/error.h"
#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/hf_json.h"

namespace fhellm::tokenizer {
namespace {

std::string replace_space_marks(const std::string& piece) {
  static const std::string mark = "\xE2\x96\x81";  // "▁"
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, mark.size(), mark) == 0) {
      out.push_back(' ');
      i += mark.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

GgmlTokenType type_of(const GgmlVocab& v, std::size_t id) {
  return id < v.token_types.size() ? static_cast<GgmlTokenType>(v.token_types[id]) : GgmlTokenType::normal;
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_ggml_vocab(const GgmlVocab& v) {
  require(!v.tokens.empty(), ErrorCode::bad_tokenizer_file, "GGUF vocabulary has no token");
  require(v.token_types.empty() || v.token_types.size() == v.tokens.size(), ErrorCode::bad_tokenizer_file,
          "GGUF vocabulary: " + std::to_string(v.token_types.size()) + " token types for " +
              std::to_string(v.tokens.size()) + " tokens");
  if (v.model == "llama") {
    require(v.scores.size() == v.tokens.size(), ErrorCode::bad_tokenizer_file,
            "GGUF vocabulary: " + std::to_string(v.scores.size()) + " scores for " + std::to_string(v.tokens.size()) +
                " tokens");
    std::vector<std::string> pieces(v.tokens.size());
    for (std::size_t id = 0; id < v.tokens.size(); ++id) {
      const GgmlTokenType type = type_of(v, id);
      // An empty piece can never be looked up: control tokens stay out of text.
      if (type != GgmlTokenType::control && type != GgmlTokenType::unused) pieces[id] = replace_space_marks(v.tokens[id]);
    }
    return std::make_unique<Llama2cTokenizer>(std::move(pieces), v.scores, v.bos, v.eos);
  }
  if (v.model == "gpt2") {
    ByteBpeVocab b;
    b.tokens.resize(v.tokens.size());
    for (std::size_t id = 0; id < v.tokens.size(); ++id) {
      const GgmlTokenType type = type_of(v, id);
      if (type == GgmlTokenType::control || type == GgmlTokenType::user_defined) {
        b.added_tokens.push_back({static_cast<TokenId>(id), v.tokens[id], type == GgmlTokenType::control});
      } else if (type != GgmlTokenType::unused) {
        b.tokens[id] = v.tokens[id];
      }
    }
    b.merges.reserve(v.merges.size());
    for (const std::string& m : v.merges) {
      const std::size_t space = m.find(' ');
      require(space != std::string::npos && space > 0 && space + 1 < m.size(), ErrorCode::bad_tokenizer_file,
              "GGUF vocabulary: merge " + std::to_string(b.merges.size()) + " is not \"left right\"");
      b.merges.emplace_back(m.substr(0, space), m.substr(space + 1));
    }
    b.pre_tokenizer = (v.pre == "llama-bpe" || v.pre == "llama3") ? PreTokenizer::llama3 : PreTokenizer::gpt2;
    b.bos = v.bos;
    b.eos = v.eos;
    return std::make_unique<ByteBpeTokenizer>(b);
  }
  throw Error(ErrorCode::bad_tokenizer_file,
              "GGUF tokenizer model '" + v.model + "' is not supported (only \"llama\" and \"gpt2\")");
}

std::string ggml_vocab_to_json(const GgmlVocab& vocab) {
  const nlohmann::json j = {{"fhellm_ggml_vocab", 1},     {"model", vocab.model},   {"pre", vocab.pre},
                            {"tokens", vocab.tokens},     {"scores", vocab.scores}, {"token_types", vocab.token_types},
                            {"merges", vocab.merges},     {"bos", vocab.bos},       {"eos", vocab.eos}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

GgmlVocab ggml_vocab_from_json(const std::string& text, const std::string& name) {
  const nlohmann::json j = detail::parse_json(text, name);
  try {
    require(j.is_object() && j.value("fhellm_ggml_vocab", 0) == 1, ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "' is not a ggml vocabulary of version 1");
    GgmlVocab v;
    v.model = j.at("model").get<std::string>();
    v.pre = j.at("pre").get<std::string>();
    v.tokens = j.at("tokens").get<std::vector<std::string>>();
    v.scores = j.at("scores").get<std::vector<float>>();
    v.token_types = j.at("token_types").get<std::vector<std::int32_t>>();
    v.merges = j.at("merges").get<std::vector<std::string>>();
    v.bos = j.at("bos").get<TokenId>();
    v.eos = j.at("eos").get<TokenId>();
    return v;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::bad_tokenizer_file, "tokenizer '" + name + "': " + e.what());
  }
}

}  // namespace fhellm::tokenizer
