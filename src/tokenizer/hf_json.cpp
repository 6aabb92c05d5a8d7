#include "tokenizer/hf_json.h"

#include "fhellm/error.h"

namespace fhellm::tokenizer::detail {

nlohmann::json parse_json(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::bad_tokenizer_file, "'" + name + "' is not valid JSON: " + e.what());
  }
}

TokenId checked_id(const nlohmann::json& v, const std::string& what, const std::string& name) {
  require(v.is_number_integer(), ErrorCode::bad_tokenizer_file,
          "'" + name + "': id of " + what + " is not an integer");
  const auto id = v.get<std::int64_t>();
  require(id >= 0 && id < kMaxTokenId, ErrorCode::bad_tokenizer_file,
          "'" + name + "': id " + std::to_string(id) + " of " + what + " is outside [0, " +
              std::to_string(kMaxTokenId) + ")");
  return static_cast<TokenId>(id);
}

std::vector<std::string> read_vocab_object(const nlohmann::json& vocab, const std::string& name) {
  require(vocab.is_object(), ErrorCode::bad_tokenizer_file, "'" + name + "': the vocabulary is not a JSON object");
  require(!vocab.empty(), ErrorCode::bad_tokenizer_file, "'" + name + "': the vocabulary is empty");
  std::vector<std::string> tokens;
  for (const auto& [token, value] : vocab.items()) {
    const TokenId id = checked_id(value, "token '" + token + "'", name);
    if (static_cast<std::size_t>(id) >= tokens.size()) tokens.resize(static_cast<std::size_t>(id) + 1);
    tokens[static_cast<std::size_t>(id)] = token;
  }
  return tokens;
}

std::pair<std::string, std::string> split_merge(std::string_view line, std::size_t rank, const std::string& name) {
  const std::size_t space = line.find(' ');
  require(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
              line.find(' ', space + 1) == std::string_view::npos,
          ErrorCode::bad_tokenizer_file,
          "'" + name + "': merge " + std::to_string(rank) + " is not two tokens separated by one space");
  return {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

std::string token_content(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

std::string template_bos(const nlohmann::json& processor) {
  if (!processor.is_object()) return {};
  const std::string type = processor.value("type", std::string());
  if (type == "Sequence" && processor.contains("processors") && processor["processors"].is_array()) {
    for (const auto& p : processor["processors"]) {
      std::string bos = template_bos(p);
      if (!bos.empty()) return bos;
    }
  }
  if (type == "TemplateProcessing" && processor.contains("single") && processor["single"].is_array() &&
      !processor["single"].empty()) {
    const auto& first = processor["single"][0];
    if (first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object())
      return first["SpecialToken"].value("id", std::string());
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> read_merges(const nlohmann::json& merges, const std::string& name) {
  require(merges.is_array(), ErrorCode::bad_tokenizer_file, "'" + name + "': merges is not an array");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    if (m.is_string()) {
      out.push_back(split_merge(m.get<std::string>(), out.size(), name));
    } else {
      require(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), ErrorCode::bad_tokenizer_file,
              "'" + name + "': merge " + std::to_string(out.size()) + " is neither \"a b\" nor [\"a\", \"b\"]");
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  return out;
}

std::vector<AddedToken> read_added_tokens(const nlohmann::json& root, const std::string& name) {
  std::vector<AddedToken> out;
  if (!root.contains("added_tokens") || !root["added_tokens"].is_array()) return out;
  for (const auto& t : root["added_tokens"]) {
    require(t.is_object() && t.contains("id") && t.contains("content") && t["content"].is_string(),
            ErrorCode::bad_tokenizer_file, "'" + name + "': an added token lacks id or content");
    AddedToken added;
    added.content = t["content"].get<std::string>();
    added.id = checked_id(t["id"], "added token '" + added.content + "'", name);
    added.special = t.value("special", false);
    out.push_back(std::move(added));
  }
  return out;
}

}  // namespace fhellm::tokenizer::detail
