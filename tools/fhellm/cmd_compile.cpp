// fhellm compile: not built yet (see the open issues).
#include "commands.h"
#include "fhellm/error.h"

namespace fhellm::cli {

void register_compile(CLI::App& app) {
  auto* cmd = app.add_subcommand("compile", "(not available yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error(ErrorCode::not_implemented, "'compile' is not available in this build yet"); });
}

}  // namespace fhellm::cli
