// Renders a parsed template: jinja2's scoping (a for loop's body is a new
// scope on every iteration; `if` adds none; a macro sees the template's
// top level), loop variables, macros, break/continue, namespace writes.
#pragma once

#include <cstddef>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace fhellm::chat::jinja {

struct RenderLimits {
  std::size_t max_output_bytes = std::size_t{16} << 20;  // a template cannot print more
  int max_call_depth = 64;                               // macro recursion
};

// Renders `body` with `variables` over `globals` (the variables win).
// @throws EvalError with the line of the failing expression, RaisedException
// from raise_exception().
std::string render(const Body& body, const Dict& variables, const Dict& globals, const RenderLimits& limits);

}  // namespace fhellm::chat::jinja
