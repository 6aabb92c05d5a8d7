// fhellm: private LLM inference with homomorphic encryption.
// Every error, the command line's included, is one line on stderr
// ("fhellm: error: ...") and the exit code of its kind (README.md,
// "Exit codes"): 1 for a command line CLI11 cannot parse, else by ErrorKind.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "allocator.h"
#include "cli_common.h"
#include "commands.h"
#include "fhellm/error.h"

namespace {

constexpr int kUsageExit = 1;

// CLI11's messages may span lines; ours are one.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  fhellm::cli::keep_freed_memory_for_serving();
  // A peer that closes its socket (a server that is not fhellm's, a client
  // that goes away) makes a write fail with EPIPE, which the caller reports;
  // without this the process would die of SIGPIPE (exit 141, no message).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"fhellm: private LLM inference with homomorphic encryption"};
  app.set_version_flag("--version", [] { return fhellm::cli::version_text(); });
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the command
  auto& flags = fhellm::cli::global_flags();
  app.add_flag("-v,--verbose", flags.verbose, "say more on stderr (settings, per-step figures)");
  app.add_flag("--quiet", flags.quiet, "no progress and no summary line: the output only");
  fhellm::cli::register_generate(app);
  fhellm::cli::register_eval(app);
  fhellm::cli::register_bench(app);
  fhellm::cli::register_compile(app);
  fhellm::cli::register_serve(app);
  fhellm::cli::register_precompute(app);
  fhellm::cli::register_demo(app);
  fhellm::cli::register_gateway(app);
  fhellm::cli::register_chat(app);
  fhellm::cli::register_api_key(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "fhellm: error: %s (see --help)\n", one_line(e.what()).c_str());
    return kUsageExit;
  } catch (const fhellm::Error& e) {
    std::fprintf(stderr, "fhellm: error: %s\n", one_line(e.what()).c_str());
    return fhellm::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fhellm: internal error: %s\n", one_line(e.what()).c_str());
    return fhellm::exit_code_for(fhellm::ErrorKind::internal);
  }
  return 0;
}
