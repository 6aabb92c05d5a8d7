// fhellm bench serve: a bounded load of real clients against one server.
// N client threads, each a full execute-mode client (its own keys, session,
// encryption), generate greedily from their own prompt again and again for
// the given time, in one session each; every generated sequence is
// checked against the simulate mode's ids at the same precision. Prints
// throughput, per-token latency (p50, p99, max), errors, and the server's
// resident memory over time (its /metrics, sampled once a second).
// With --hold, each client only opens a session and holds it: the server's
// resident memory per session against the memory it counts for one.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"
#include "net/api_keys.h"
#include "client/execute_channel.h"
#include "net/http_channel.h"
#include "server_process.h"

namespace fhellm::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchServeArgs {
  std::string shape = "stories260k", server, api_key, precision = "default";
  std::size_t clients = 16, n_tokens = 8, prompt_tokens = 4;
  double seconds = 60;
  std::uint64_t seed = 1;
  bool json = false, hold = false;
};

struct LoadFigures {
  std::vector<double> token_ms;        // decode tokens (first token of a generation apart)
  std::vector<double> first_token_ms;  // session open + prefill + first token
  std::uint64_t tokens = 0, tokens_wrong = 0, generations = 0, errors = 0;
  std::vector<std::string> error_samples;
  std::mutex mutex;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// A sample of the server's /metrics (0 when absent).
double server_metric(const std::string& url, const std::string& key, const std::string& metric) {
  try {
    const std::string text = net::http_get(url, "/metrics", std::chrono::seconds(5), key);
    const std::string name = "\n" + metric + " ";
    const auto at = text.find(name);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size()));
  } catch (const std::exception&) {
    return 0;
  }
}
double server_rss(const std::string& url, const std::string& key) {
  return server_metric(url, key, "process_resident_memory_bytes");
}

// --hold: N sessions opened at once and held; resident memory per session
// against the server's count.
void run_hold(const BenchServeArgs& a, const std::string& url) {
  const double before = server_rss(url, a.api_key);
  std::vector<std::unique_ptr<net::HttpChannel>> channels(a.clients);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (std::size_t c = 0; c < a.clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        net::ChannelConfig config;
        config.url = url;
        config.api_key = a.api_key;
        channels[c] = std::make_unique<net::HttpChannel>(config);
        channels[c]->open_session(he::LinearClient().server_keys().save());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench serve: session %zu: %s\n", c, e.what());
        failed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long long>(a.seconds * 1e3)));
  const double held = server_rss(url, a.api_key);
  const double sessions = server_metric(url, a.api_key, "fhellm_sessions_active");
  const double counted = server_metric(url, a.api_key, "fhellm_session_memory_bytes");
  channels.clear();  // closes every session
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double after = server_rss(url, a.api_key);
  const double per_session = sessions > 0 ? (held - before) / sessions : 0;
  if (a.json) {
    const nlohmann::json j = {{"sessions", sessions}, {"failed", failed.load()}, {"rss_before_bytes", before},
                              {"rss_held_bytes", held}, {"rss_after_close_bytes", after},
                              {"rss_per_session_bytes", per_session}, {"counted_per_session_bytes", counted}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("bench serve --hold: %.0f sessions held (%d failed); server RSS %.0f MB before, %.0f MB held, "
              "%.0f MB after closing\n",
              sessions, failed.load(), before / 1e6, held / 1e6, after / 1e6);
  std::printf("  per session: resident %.2f MB, counted %.2f MB (resident / counted %.3f)\n", per_session / 1e6,
              counted / 1e6, counted > 0 ? per_session / counted : 0.0);
}

void client_loop(std::size_t c, const std::shared_ptr<const model::Model>& m, const std::string& url,
                 const BenchServeArgs& a, Clock::time_point deadline, LoadFigures& out) {
  std::vector<TokenId> prompt(a.prompt_tokens);
  for (std::size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = static_cast<TokenId>((c * 7919 + i * 104729 + 13) % m->config().vocab_size);
  hybrid::GenerateOptions options;
  options.stop_at_eos = false;
  std::vector<TokenId> expected;
  {
    hybrid::HybridModel sim(m);
    sim.set_precision(he::parse_linear_precision(a.precision));
    sim.set_mode(hybrid::FheMode::simulate);
    expected = sim.generate(prompt, a.n_tokens, options).ids;
  }
  // One session per client (as a chat keeps one), opened by the first
  // generation; a failed client starts over with a new one.
  std::unique_ptr<hybrid::HybridModel> hm;
  while (Clock::now() < deadline) {
    std::vector<double> token_ms;
    double first_ms = 0;
    try {
      if (!hm) {
        hm = std::make_unique<hybrid::HybridModel>(m);
        hm->set_precision(he::parse_linear_precision(a.precision));
        client::ExecuteClientOptions o;
        o.server_url = url;
        o.api_key = a.api_key;
        o.timeout = std::chrono::minutes(5);
        client::enable_execute(*hm, o);
        hm->set_mode(hybrid::FheMode::execute);
      }
      auto last = Clock::now();
      bool first = true;
      const auto r = hm->generate(prompt, a.n_tokens, options, [&](TokenId) {
        const auto now = Clock::now();
        const double ms = std::chrono::duration<double, std::milli>(now - last).count();
        (first ? first_ms : token_ms.emplace_back()) = ms;
        first = false;
        last = now;
      });
      std::lock_guard lock(out.mutex);
      out.generations += 1;
      out.tokens += r.ids.size();
      for (std::size_t i = 0; i < r.ids.size(); ++i)
        if (i >= expected.size() || r.ids[i] != expected[i]) out.tokens_wrong += 1;
      out.first_token_ms.push_back(first_ms);
      out.token_ms.insert(out.token_ms.end(), token_ms.begin(), token_ms.end());
    } catch (const std::exception& e) {
      hm.reset();
      std::lock_guard lock(out.mutex);
      out.errors += 1;
      if (out.error_samples.size() < 5) out.error_samples.push_back(e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void run_bench_serve(const BenchServeArgs& a) {
  require(a.clients >= 1 && a.clients <= 256, ErrorCode::bad_command_line, "bench serve: --clients must be 1..256");
  require(a.n_tokens >= 2 && a.prompt_tokens >= 1, ErrorCode::bad_command_line,
          "bench serve: -n must be at least 2 and --prompt-tokens at least 1");
  const auto m = model::random_model(model::shape_preset(a.shape), a.seed);
  std::unique_ptr<ServerProcess> process;
  std::string url = a.server;
  if (url.empty()) {
    process = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--random-weights", "--shape", a.shape, "--seed", std::to_string(a.seed),
                                 "--precision", a.precision,
                                 "--max-sessions", std::to_string(std::max<std::size_t>(64, 2 * a.clients)),
                                 // every client comes from loopback: one address
                                 "--max-connections-per-address", std::to_string(2 * a.clients + 8)});
    url = process->url();
  }
  const std::string key = net::api_key_from(a.api_key);
  BenchServeArgs args = a;
  args.api_key = key;
  if (a.hold) return run_hold(args, url);
  LoadFigures figures;
  std::vector<std::pair<double, double>> rss;  // (seconds, bytes)
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(a.seconds * 1e3));
  rss.emplace_back(0.0, server_rss(url, key));
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < a.clients; ++c)
    threads.emplace_back([&, c] { client_loop(c, m, url, args, deadline, figures); });
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss.emplace_back(std::chrono::duration<double>(Clock::now() - start).count(), server_rss(url, key));
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  rss.emplace_back(elapsed, server_rss(url, key));

  const double tokens_per_second = static_cast<double>(figures.tokens) / elapsed;
  const double p50 = percentile(figures.token_ms, 0.50), p99 = percentile(figures.token_ms, 0.99);
  const double worst = figures.token_ms.empty() ? 0 : *std::max_element(figures.token_ms.begin(), figures.token_ms.end());
  const double first_p50 = percentile(figures.first_token_ms, 0.50);
  if (a.json) {
    nlohmann::json series = nlohmann::json::array();
    for (const auto& [t, b] : rss) series.push_back({t, b});
    const nlohmann::json j = {{"shape", a.shape}, {"clients", a.clients}, {"seconds", elapsed},
                              {"generations", figures.generations}, {"tokens", figures.tokens},
                              {"tokens_wrong", figures.tokens_wrong}, {"errors", figures.errors},
                              {"error_samples", figures.error_samples}, {"tokens_per_second", tokens_per_second},
                              {"token_ms_p50", p50}, {"token_ms_p99", p99}, {"token_ms_max", worst},
                              {"first_token_ms_p50", first_p50}, {"server_rss_bytes", series}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("bench serve: %s (random weights), %zu clients for %.0f s, %zu-token prompts, %zu tokens per generation\n",
              a.shape.c_str(), a.clients, elapsed, a.prompt_tokens, a.n_tokens);
  std::printf("  generations %llu, tokens %llu (%llu differ from simulate), errors %llu\n",
              static_cast<unsigned long long>(figures.generations), static_cast<unsigned long long>(figures.tokens),
              static_cast<unsigned long long>(figures.tokens_wrong), static_cast<unsigned long long>(figures.errors));
  for (const std::string& e : figures.error_samples) std::printf("    error: %s\n", e.c_str());
  std::printf("  throughput %.2f tokens/s; per decode token p50 %.0f ms, p99 %.0f ms, max %.0f ms; "
              "first token (prefill; the first also opens the session) p50 %.0f ms\n",
              tokens_per_second, p50, p99, worst, first_p50);
  std::printf("  server RSS (MB) over time:");
  const std::size_t step = std::max<std::size_t>(1, rss.size() / 12);
  for (std::size_t i = 0; i < rss.size(); i += step) std::printf(" %.0fs:%.0f", rss[i].first, rss[i].second / 1e6);
  std::printf(" end:%.0f\n", rss.back().second / 1e6);
}

}  // namespace

void register_bench_serve(CLI::App& bench) {
  auto args = std::make_shared<BenchServeArgs>();
  auto* cmd = bench.add_subcommand("serve", "Many real clients against one server: throughput, latency, errors, RSS");
  cmd->add_option("--clients", args->clients, "client threads")->capture_default_str();
  cmd->add_option("--seconds", args->seconds, "how long the load runs")->capture_default_str();
  cmd->add_option("--shape", args->shape, "random weights of: stories260k, gpt2-124m, llama-3.2-1b")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "weight seed (client and server)")->capture_default_str();
  cmd->add_option("-n,--n-tokens", args->n_tokens, "tokens per generation")->capture_default_str();
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "prompt length")->capture_default_str();
  cmd->add_option("--precision", args->precision,
                  "default or exact; the tokens are checked against simulate at the same precision")
      ->capture_default_str();
  cmd->add_option("--server", args->server,
                  "an already running `fhellm serve --random-weights --shape S --seed N` (default: start one)");
  cmd->add_option("--api-key", args->api_key, "the server's API key (default: $FHELLM_API_KEY)");
  cmd->add_flag("--hold", args->hold,
                "only open one session per client and hold it --seconds: resident memory per session vs counted");
  cmd->add_flag("--json", args->json, "one JSON object");
  cmd->callback([args] { run_bench_serve(*args); });
}

}  // namespace fhellm::cli
