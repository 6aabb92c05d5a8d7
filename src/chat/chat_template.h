// ChatTemplate: turns a conversation (OpenAI-style messages) into the prompt
// text a chat model was trained on, by rendering the model's Jinja
// `chat_template` exactly as transformers' apply_chat_template(tokenize=False)
// does: variables messages, tools (None unless given), documents (None),
// add_generation_prompt, bos_token, eos_token, unk_token, pad_token, and the
// globals raise_exception and strftime_now (local time).
//
// Templates come from a tokenizer_config.json (string, or a list of named
// templates: "default" is used), a GGUF's tokenizer.chat_template, a .jinja
// file, or one built in by name (the real templates of Llama 3, Llama 3.2,
// Llama 2, Mistral v0.1 and v0.3, Gemma, Qwen 2.5, ChatML and TinyLlama; see
// builtin_names()).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"

namespace fhellm::chat {

// The special-token strings a template sees (empty: the variable is None,
// as transformers passes a missing token).
struct SpecialTokens {
  std::string bos_token, eos_token, unk_token, pad_token;
};

class ChatTemplate {
 public:
  // @throws Error(bad_chat_template) when `source` does not parse.
  ChatTemplate(std::string name, std::string_view source, SpecialTokens tokens);

  // Names accepted by builtin(), sorted.
  static std::vector<std::string> builtin_names();
  // The source text of a built-in template.
  // @throws Error(invalid_argument) naming the built-in templates.
  static std::string builtin_source(const std::string& name);
  static ChatTemplate builtin(const std::string& name, SpecialTokens tokens);

  // The chat_template of a tokenizer_config.json (its special tokens too),
  // or nullopt when it has none.
  // @throws Error(file_not_found, bad_tokenizer_file, bad_chat_template)
  static std::optional<ChatTemplate> from_tokenizer_config(const std::filesystem::path& file);

  // --chat-template NAME|FILE: a built-in name, a tokenizer_config.json (or
  // any .json holding chat_template), or a file holding the template text.
  // A tokenizer_config.json's special tokens win over `tokens`.
  // @throws Error(invalid_argument, file_not_found, bad_tokenizer_file, bad_chat_template)
  static ChatTemplate resolve(const std::string& name_or_file, const SpecialTokens& tokens);

  // The prompt for `messages` (a JSON array of {"role", "content", ...}).
  // `extra`: more template variables (tools, date_string, ...), a JSON object.
  // @throws Error(invalid_argument) for messages that are not an array;
  // Error(chat_template_exception) when the template refuses the
  // conversation (e.g. roles that do not alternate); Error(bad_chat_template).
  std::string apply(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& name() const { return name_; }
  const SpecialTokens& special_tokens() const { return tokens_; }
  // Replaces strftime_now's clock (tests make the date fixed).
  void set_clock(std::function<std::string(const std::string& format)> clock) { options_.strftime_now = std::move(clock); }

 private:
  std::string name_;
  JinjaTemplate template_;
  SpecialTokens tokens_;
  RenderOptions options_;
};

}  // namespace fhellm::chat
