// fhellm chat: a conversation in the terminal, through the model's chat
// template (or --chat-template). The history goes back to the model each
// turn; /reset forgets it; Ctrl-C stops the answer being written (the
// program goes on); Ctrl-D or /exit ends.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>

#include "chat_engine.h"
#include "engine_options.h"
#include "cli_common.h"
#include "commands.h"
#include "fhellm/error.h"

namespace fhellm::cli {
namespace {

using Json = nlohmann::ordered_json;

struct ChatArgs {
  ChatEngineOptions engine;
  std::string system;
  std::int64_t n_tokens = -1;
  GenerateOptions sampling;  // -n apart
  int threads = 0;
};

std::atomic<bool> g_interrupted{false};  // set by SIGINT, read between tokens
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Ctrl-C stops the answer, not the program, while this object lives.
class InterruptStopsAnswers {
 public:
  InterruptStopsAnswers() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &previous_);
  }
  ~InterruptStopsAnswers() { sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

// Drops the oldest exchanges (never the system message) until the prompt
// leaves room for an answer; returns its ids.
std::vector<std::int32_t> fit(ChatEngine& engine, Json& history) {
  while (true) {
    std::vector<std::int32_t> ids = engine.encode_chat(history);
    if (ids.size() + 16 <= engine.context()) return ids;
    const std::size_t first = !history.empty() && history[0]["role"] == "system" ? 1 : 0;
    require(history.size() > first + 1, ErrorCode::context_overflow,
            "this message alone (" + std::to_string(ids.size()) + " tokens) fills the model's context of " +
                std::to_string(engine.context()));
    history.erase(history.begin() + static_cast<std::ptrdiff_t>(first));
  }
}

void answer(ChatEngine& engine, const ChatArgs& a, Json& history) {
  EngineRequest req;
  req.prompt_ids = fit(engine, history);
  req.options = a.sampling;
  const std::size_t room = engine.context() - req.prompt_ids.size() + 1;
  req.options.max_tokens = a.n_tokens < 0 ? kUntilContextEnd : std::min<std::size_t>(room, static_cast<std::size_t>(a.n_tokens));
  if (global_flags().verbose) std::fprintf(stderr, "[fhellm] prompt %zu tokens\n", req.prompt_ids.size());
  g_interrupted.store(false);
  // The session is taken for the answer only: between turns, while the user
  // types, a background precompute (--online --precompute-rows) may run.
  const auto lease = engine.acquire(req.prompt_ids);
  const EngineResult r = engine.run(*lease, req, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return !g_interrupted.load();
  });
  const bool stopped = g_interrupted.exchange(false);
  std::fputs(stopped ? " [stopped]\n" : "\n", stdout);
  std::fflush(stdout);
  history.push_back({{"role", "assistant"}, {"content", r.text}});
  if (!global_flags().quiet) {
    std::fprintf(stderr,
                 "[fhellm] %zu tokens, %.1f tokens/s, first after %.0f ms (prompt %zu tokens, %zu of them cached), "
                 "%.1f KB up, %.1f KB down\n",
                 r.n_completion, r.total_ms > 0 ? 1e3 * static_cast<double>(r.n_completion) / r.total_ms : 0.0,
                 r.ttft_ms, r.n_prompt, r.n_cached, static_cast<double>(r.bytes_up) / 1e3,
                 static_cast<double>(r.bytes_down) / 1e3);
    if (engine.online())
      std::fprintf(stderr, "[fhellm] online: %llu remote rows on precomputed masks, %llu encrypted\n",
                   static_cast<unsigned long long>(r.online_rows), static_cast<unsigned long long>(r.fallback_rows));
  }
}

void run_chat(const ChatArgs& a) {
  apply_threads(a.threads);
  ChatEngine engine(a.engine);
  InterruptStopsAnswers interrupts;
  Json history = Json::array();
  if (!a.system.empty()) history.push_back({{"role", "system"}, {"content", a.system}});
  if (!global_flags().quiet) {
    std::fprintf(stderr, "fhellm chat: model '%s', fhe %s, chat template %s. /reset forgets, Ctrl-C stops an answer, "
                         "Ctrl-D or /exit ends.\n",
                 engine.model_name().c_str(), engine.fhe().c_str(), engine.chat_template().name().c_str());
  }
  std::string line;
  while (true) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      history.erase(history.begin() + (!history.empty() && history[0]["role"] == "system" ? 1 : 0), history.end());
      std::puts("(conversation reset)");
      continue;
    }
    if (line.empty()) continue;
    history.push_back({{"role", "user"}, {"content", line}});
    try {
      answer(engine, a, history);
    } catch (const Error& e) {
      history.erase(history.end() - 1);  // the turn that failed
      std::fprintf(stderr, "fhellm: error: %s\n", e.what());
    }
  }
  std::fputs("\n", stdout);
}

}  // namespace

void register_chat(CLI::App& app) {
  auto args = std::make_shared<ChatArgs>();
  auto* cmd = app.add_subcommand("chat", "A conversation with the model in the terminal");
  ChatEngineOptions& e = args->engine;
  add_engine_options(cmd, e,
                     "run the whole conversation at every turn (by default only what a turn adds to the kept KV "
                     "cache runs)");
  cmd->add_option("--system", args->system, "a system message to start the conversation with");
  cmd->add_option("-n,--n-predict", args->n_tokens, "tokens per answer at most (-1: until end of text or context)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 40));
  add_sampling_options(cmd, args->sampling);
  add_threads_option(cmd, args->threads);
  cmd->callback([args] { run_chat(*args); });
}

}  // namespace fhellm::cli
