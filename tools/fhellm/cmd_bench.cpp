// fhellm bench: speed and traffic figures. Each kind of benchmark is a
// subcommand in its own bench_*.cpp file.
#include "commands.h"

namespace fhellm::cli {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Measure speed and traffic (see subcommands)");
  bench->require_subcommand(1);
  register_bench_linear(*bench);
  register_bench_generate(*bench);
  register_bench_model(*bench);
  register_bench_serve(*bench);
  register_bench_lookup(*bench);
}

}  // namespace fhellm::cli
