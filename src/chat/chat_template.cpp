#include "chat/chat_template.h"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include "chat/builtin_templates.h"
#include "fhellm/error.h"

namespace fhellm::chat {
namespace {

// transformers' strftime_now: datetime.now().strftime(format).
std::string local_strftime(const std::string& format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[256];
  const std::size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
  return std::string(buf, n);
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open '" + file.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A special token in tokenizer_config.json: a string, or {"content": ...}
// (an AddedToken), or null.
std::string token_text(const nlohmann::ordered_json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  throw Error(ErrorCode::bad_tokenizer_file, std::string("tokenizer_config.json: '") + key + "' is neither a string nor a token");
}

// chat_template: a string, or [{"name": ..., "template": ...}] where "default" is used.
std::optional<std::string> template_text(const nlohmann::ordered_json& config, const std::string& file) {
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") && entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
    throw Error(ErrorCode::bad_tokenizer_file, file + ": chat_template is a list without a \"default\" template");
  }
  throw Error(ErrorCode::bad_tokenizer_file, file + ": chat_template is neither a string nor a list");
}

nlohmann::ordered_json token_or_none(const std::string& s) {
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string name, std::string_view source, SpecialTokens tokens)
    : name_(std::move(name)), template_(source), tokens_(std::move(tokens)) {
  options_.strftime_now = local_strftime;
}

std::vector<std::string> ChatTemplate::builtin_names() {
  std::vector<std::string> names;
  for (const auto& t : builtin_templates()) names.emplace_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ChatTemplate::builtin_source(const std::string& name) {
  for (const auto& t : builtin_templates())
    if (name == t.name) return std::string(t.source);
  std::string known;
  for (const auto& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::invalid_argument, "no built-in chat template '" + name + "' (built in: " + known + ")");
}

ChatTemplate ChatTemplate::builtin(const std::string& name, SpecialTokens tokens) {
  return ChatTemplate(name, builtin_source(name), std::move(tokens));
}

std::optional<ChatTemplate> ChatTemplate::from_tokenizer_config(const std::filesystem::path& file) {
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(read_text(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::bad_tokenizer_file, file.string() + ": " + e.what());
  }
  require(config.is_object(), ErrorCode::bad_tokenizer_file, file.string() + ": not a JSON object");
  const auto text = template_text(config, file.string());
  if (!text) return std::nullopt;
  SpecialTokens tokens{token_text(config, "bos_token"), token_text(config, "eos_token"), token_text(config, "unk_token"),
                       token_text(config, "pad_token")};
  return ChatTemplate(file.string(), *text, std::move(tokens));
}

ChatTemplate ChatTemplate::resolve(const std::string& name_or_file, const SpecialTokens& tokens) {
  const auto names = builtin_names();
  if (std::find(names.begin(), names.end(), name_or_file) != names.end()) return builtin(name_or_file, tokens);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(name_or_file, ec)) builtin_source(name_or_file);  // throws, listing the names
  if (std::filesystem::path(name_or_file).extension() == ".json") {
    auto t = from_tokenizer_config(name_or_file);
    require(t.has_value(), ErrorCode::bad_tokenizer_file, name_or_file + " has no chat_template");
    return std::move(*t);
  }
  return ChatTemplate(name_or_file, read_text(name_or_file), tokens);
}

std::string ChatTemplate::apply(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                const nlohmann::ordered_json& extra) const {
  require(messages.is_array(), ErrorCode::invalid_argument, "chat messages must be a JSON array");
  require(extra.is_object(), ErrorCode::invalid_argument, "chat template variables must be a JSON object");
  nlohmann::ordered_json vars = {{"messages", messages},
                                 {"tools", nullptr},
                                 {"documents", nullptr},
                                 {"add_generation_prompt", add_generation_prompt},
                                 {"bos_token", token_or_none(tokens_.bos_token)},
                                 {"eos_token", token_or_none(tokens_.eos_token)},
                                 {"unk_token", token_or_none(tokens_.unk_token)},
                                 {"pad_token", token_or_none(tokens_.pad_token)}};
  for (const auto& [k, v] : extra.items()) vars[k] = v;
  return template_.render(vars, options_);
}

}  // namespace fhellm::chat
