// fhellm bench linear: not built yet (see the open issues).
#include "commands.h"
#include "fhellm/error.h"

namespace fhellm::cli {

void register_bench_linear(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("linear", "(not available yet)");
  cmd->allow_extras();
  cmd->callback([] { throw Error(ErrorCode::not_implemented, "'bench linear' is not available in this build yet"); });
}

}  // namespace fhellm::cli
