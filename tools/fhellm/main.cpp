// fhellm: private LLM inference with homomorphic encryption.
// Errors become one line on stderr and the exit code of their kind
// (README.md, "Exit codes").
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "allocator.h"
#include "commands.h"
#include "fhellm/error.h"
#include "fhellm/version.h"

int main(int argc, char** argv) {
  fhellm::cli::keep_freed_memory_for_serving();
  CLI::App app{"fhellm: private LLM inference with homomorphic encryption"};
  app.set_version_flag("--version", FHELLM_VERSION_STRING);
  app.require_subcommand(1);
  fhellm::cli::register_generate(app);
  fhellm::cli::register_eval(app);
  fhellm::cli::register_bench(app);
  fhellm::cli::register_compile(app);
  fhellm::cli::register_serve(app);
  fhellm::cli::register_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const fhellm::Error& e) {
    std::fprintf(stderr, "fhellm: error: %s\n", e.what());
    return fhellm::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fhellm: internal error: %s\n", e.what());
    return fhellm::exit_code_for(fhellm::ErrorKind::internal);
  }
  return 0;
}
