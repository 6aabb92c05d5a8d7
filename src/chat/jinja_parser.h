// Parses jinja2's template grammar (statements: if/elif/else, for with a
// filter and else, set (names, tuples, namespace attributes, blocks), macro,
// break, continue, generation; expressions with jinja2's precedence: `if`
// conditions, or, and, not, comparisons and `in`, + -, ~, * / // %, **,
// unary - +, then postfix `.attr`, `[index or slice]`, calls, `| filter`
// and `is test`).
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace fhellm::chat::jinja {

// @throws Error(bad_chat_template) naming the line of a syntax error, an
// unknown or unsupported tag, or nesting deeper than 200 levels.
Body parse(const std::vector<Token>& tokens);

}  // namespace fhellm::chat::jinja
