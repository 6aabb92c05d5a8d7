// What several fhellm commands share: the global flags (-v/--verbose,
// --quiet), the llama.cpp-style sampling and prompt options, -t/--threads,
// and --version's text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fhellm/client.h"

namespace fhellm::cli {

// -v/--verbose and --quiet, given before or after the command.
struct GlobalFlags {
  bool verbose = false;
  bool quiet = false;  // no progress, no summary line: the generated text only
};
GlobalFlags& global_flags();

// --temperature/--temp, --top-p, --top-k, --min-p, --repeat-penalty,
// --repeat-last-n, -s/--seed: the sampling of GenerateOptions as llama.cpp names it.
void add_sampling_options(CLI::App* cmd, GenerateOptions& s);

// -t/--threads N: the engine's worker threads (0: the hardware's). Call
// apply_threads before any work (it sets FHELLM_THREADS for this process).
void add_threads_option(CLI::App* cmd, int& threads);
void apply_threads(int threads);

// The prompt of -p TEXT or -f FILE ("-": standard input); at most one of them.
// @throws Error(bad_command_line, file_not_found)
std::string prompt_text(const std::string& prompt, const std::string& prompt_file, bool prompt_given);

// fhellm --version: version, build, CPU features and the kernels in use.
std::string version_text();

}  // namespace fhellm::cli
