#include "chat/jinja_template.h"

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "fhellm/error.h"

namespace fhellm::chat {

JinjaTemplate::JinjaTemplate(std::string_view source)
    : body_(std::make_shared<const jinja::Body>(jinja::parse(jinja::tokenize(source)))) {}

std::string JinjaTemplate::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
  require(variables.is_object(), ErrorCode::invalid_argument, "chat template variables must be a JSON object");
  const jinja::Value vars = jinja::Value::from_json(variables);
  jinja::RenderLimits limits;
  limits.max_output_bytes = options.max_output_bytes;
  try {
    return jinja::render(*body_, vars.as_dict(), jinja::global_functions(options.strftime_now), limits);
  } catch (const jinja::EvalError& e) {
    throw Error(ErrorCode::bad_chat_template, "chat template line " + std::to_string(e.line) + ": " + e.what());
  } catch (const jinja::RaisedException& e) {
    throw Error(ErrorCode::chat_template_exception, std::string("the chat template refused: ") + e.what());
  }
}

}  // namespace fhellm::chat
