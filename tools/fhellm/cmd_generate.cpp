// fhellm generate: not built yet (see the open issues).
#include "commands.h"
#include "fhellm/error.h"

namespace fhellm::cli {

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "(not available yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error(ErrorCode::not_implemented, "'generate' is not available in this build yet"); });
}

}  // namespace fhellm::cli
