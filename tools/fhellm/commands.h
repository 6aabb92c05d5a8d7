// The fhellm commands. Each lives in its own cmd_<name>.cpp and adds a
// subcommand to the application; main.cpp calls every register_* below.
#pragma once

#include <CLI/CLI.hpp>

namespace fhellm::cli {

void register_generate(CLI::App& app);  // cmd_generate.cpp
void register_eval(CLI::App& app);      // cmd_eval.cpp
void register_bench(CLI::App& app);     // cmd_bench.cpp: the "bench" command, whose
                                        // subcommands are registered below
void register_bench_linear(CLI::App& bench);    // bench_linear.cpp: encrypted matrix product
void register_bench_generate(CLI::App& bench);  // bench_generate.cpp: per-token latency/traffic
void register_bench_model(CLI::App& bench);     // bench_model.cpp: clear tokens/s
void register_bench_serve(CLI::App& bench);     // bench_serve.cpp: many clients against one server
void register_bench_lookup(CLI::App& bench);    // bench_lookup.cpp: encrypted embedding lookup
void register_compile(CLI::App& app);   // cmd_compile.cpp
void register_serve(CLI::App& app);     // cmd_serve.cpp
void register_precompute(CLI::App& app);  // cmd_precompute.cpp: the online mode's offline phase
void register_demo(CLI::App& app);      // cmd_demo.cpp
void register_gateway(CLI::App& app);   // cmd_gateway.cpp: the OpenAI-compatible local server
void register_chat(CLI::App& app);      // cmd_chat.cpp: a conversation in the terminal
void register_api_key(CLI::App& app);   // cmd_api_key.cpp

}  // namespace fhellm::cli
