// JinjaTemplate: a Jinja template rendered as transformers renders a chat
// template (jinja2's ImmutableSandboxedEnvironment with trim_blocks,
// lstrip_blocks and loop controls; transformers' tojson, raise_exception and
// strftime_now). The subset that is supported, and where it departs from
// Python (Unicode case mapping), is listed in docs/chat.md.
//
// Parsed once (the constructor), rendered any number of times; immutable and
// safe to share between threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fhellm::chat {

namespace jinja {
struct Stmt;
}

struct RenderOptions {
  // strftime_now(format) of the template; unset: the function is not
  // defined (templates that test `strftime_now is defined` fall back).
  std::function<std::string(const std::string& format)> strftime_now;
  std::size_t max_output_bytes = std::size_t{16} << 20;
};

class JinjaTemplate {
 public:
  // @throws Error(bad_chat_template) with the line of a syntax error or an
  // unsupported tag.
  explicit JinjaTemplate(std::string_view source);

  // Renders with `variables` (a JSON object: names to values; JSON null is
  // Python's None).
  // @throws Error(bad_chat_template) for an error while rendering (undefined
  // value used, type error, output over the limit), naming the line;
  // Error(chat_template_exception) with the template's own message when it
  // calls raise_exception().
  std::string render(const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Stmt>>> body_;
};

}  // namespace fhellm::chat
