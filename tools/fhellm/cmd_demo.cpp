// fhellm demo: not built yet (see the open issues).
#include "commands.h"
#include "fhellm/error.h"

namespace fhellm::cli {

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "(not available yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error(ErrorCode::not_implemented, "'demo' is not available in this build yet"); });
}

}  // namespace fhellm::cli
