// Pieces of Hugging Face tokenizer.json / vocab.json parsing shared by the
// BPE tokenizers.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/byte_bpe_tokenizer.h"

namespace fhellm::tokenizer::detail {

// Ids beyond this are refused: no real vocabulary comes close, and the id
// sizes the id -> token table.
inline constexpr std::int64_t kMaxTokenId = std::int64_t{1} << 24;

// @throws Error(bad_tokenizer_file) naming `name`
nlohmann::json parse_json(const std::string& text, const std::string& name);
TokenId checked_id(const nlohmann::json& v, const std::string& what, const std::string& name);
// {"token": id, ...} into an id-indexed list ("" for unused ids).
std::vector<std::string> read_vocab_object(const nlohmann::json& vocab, const std::string& name);
// "left right" into its two tokens.
std::pair<std::string, std::string> split_merge(std::string_view line, std::size_t rank, const std::string& name);
// model.merges: "a b" strings or ["a", "b"] pairs.
std::vector<std::pair<std::string, std::string>> read_merges(const nlohmann::json& merges, const std::string& name);
// added_tokens: [{id, content, special}].
std::vector<AddedToken> read_added_tokens(const nlohmann::json& root, const std::string& name);
// A special token given as a string or {"content": ...}.
std::string token_content(const nlohmann::json& v);
// First special token of a TemplateProcessing "single" template.
std::string template_bos(const nlohmann::json& processor);

}  // namespace fhellm::tokenizer::detail
