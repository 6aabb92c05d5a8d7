// The chat templates built into fhellm (--chat-template NAME): the real
// templates of model families, kept as src/chat/templates/NAME.jinja and
// compiled in by CMake (builtin_templates.cpp is generated).
#pragma once

#include <span>
#include <string_view>

namespace fhellm::chat {

struct BuiltinTemplate {
  std::string_view name;    // file name without .jinja
  std::string_view source;  // the file's text
};

std::span<const BuiltinTemplate> builtin_templates();

}  // namespace fhellm::chat
