// The options `fhellm gateway` and `fhellm chat` share: the model or client
// artifact, the server and how to reach it, the FHE mode, the online mode.
#pragma once

#include <CLI/CLI.hpp>

#include "chat_engine.h"

namespace fhellm::cli {

// `prompt_cache_help`: what --no-prompt-cache turns off, in the command's words.
void add_engine_options(CLI::App* cmd, ChatEngineOptions& e, const std::string& prompt_cache_help);

}  // namespace fhellm::cli
