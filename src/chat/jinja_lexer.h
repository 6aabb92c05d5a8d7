// Splits a Jinja template into tokens the way jinja2's lexer does in the
// environment transformers uses: trim_blocks (the newline after a block tag
// goes), lstrip_blocks (spaces before a block tag on its own line go),
// `-` and `+` whitespace control, keep_trailing_newline off.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fhellm::chat::jinja {

struct Token {
  enum class Type { data, variable_begin, variable_end, block_begin, block_end, name, string, integer, floating, op, eof };
  Type type;
  std::string text;  // data text, name, unescaped string value, number digits, operator
  int line;
};

// @throws Error(bad_chat_template) on an unterminated tag, string or comment,
// or a character that starts no token.
std::vector<Token> tokenize(std::string_view source);

}  // namespace fhellm::chat::jinja
