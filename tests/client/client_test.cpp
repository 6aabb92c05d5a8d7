// The client facade on the bundled model: the three modes, streaming and
// cancelling, the figures of a call, and statuses instead of exceptions.
#include "fhellm/client.h"

#include <gtest/gtest.h>

#include <thread>
#include <utility>
#include <vector>

#include "test_data.h"

namespace fhellm {
namespace {

ClientOptions bundled(const std::string& fhe) {
  ClientOptions o;
  o.model = test_data::bundled_model().string();
  o.tokenizer = test_data::bundled_tokenizer().string();
  o.fhe = fhe;
  return o;
}

GenerateOptions greedy(std::size_t n) {
  GenerateOptions g;
  g.max_tokens = n;
  g.stop_at_eos = false;
  return g;
}

TEST(ModelClient, ExecuteInProcessGivesSimulateTextAndItsFigures) {
  // Exact precision: execute decrypts exactly simulate's integers.
  ClientOptions simulate_exact = bundled("simulate"), execute_exact = bundled("execute");
  simulate_exact.precision = execute_exact.precision = "exact";
  Client simulate(simulate_exact);
  const GenerateResult s = simulate.generate("Once upon a time", greedy(6));
  Client execute(execute_exact);
  std::string streamed;
  const GenerateResult e = execute.generate("Once upon a time", greedy(6), [&](std::string_view piece) {
    EXPECT_FALSE(piece.empty());
    streamed += piece;
    return true;
  });
  EXPECT_EQ(e.ids, s.ids);
  EXPECT_EQ(e.text, s.text);
  EXPECT_EQ(streamed, e.text);
  EXPECT_EQ(e.prompt_ids.front(), 1);  // BOS
  const ClientStats& st = execute.last_stats();
  EXPECT_EQ(st.n_prompt_tokens, e.prompt_ids.size());
  EXPECT_EQ(st.n_generated_tokens, 6u);
  EXPECT_EQ(st.remote_calls, 22u * 6);  // the token lookup, 5 layers x 4 groups and the head, per forward pass
  EXPECT_GT(st.bytes_up, 0u);
  EXPECT_GT(st.bytes_down, 0u);
  EXPECT_GT(st.session_key_bytes, 0u);
  EXPECT_EQ(st.key_bytes_up, st.session_key_bytes);  // this call opened the session
  EXPECT_GT(st.server_ms, 0.0);
  EXPECT_GT(st.crypto_ms, 0.0);
  EXPECT_NEAR(st.total_ms, st.prefill_ms + st.decode_ms, 1e-6);
  EXPECT_EQ(st.ttft_ms, st.prefill_ms);
  EXPECT_NEAR(st.decode_ms_per_token, st.decode_ms / 5, 1e-9);
  EXPECT_NEAR(st.prefill_ms_per_row, st.prefill_ms / static_cast<double>(e.prompt_ids.size()), 1e-9);
  // The prompt and the later tokens apart add up to the whole call.
  EXPECT_EQ(st.prefill_bytes_up + st.decode_bytes_up, st.bytes_up);
  EXPECT_EQ(st.prefill_bytes_down + st.decode_bytes_down, st.bytes_down);
  EXPECT_GT(st.prefill_bytes_up, 0u);
  EXPECT_GT(st.decode_bytes_up, 0u);
  EXPECT_GT(st.prefill_server_ms, 0.0);
  EXPECT_NEAR(st.prefill_server_ms + st.decode_server_ms, st.server_ms, 1e-6);
  // The next call reuses the session: no key goes up again.
  execute.generate("Lily", greedy(1));
  EXPECT_EQ(execute.last_stats().key_bytes_up, 0u);
  EXPECT_GT(execute.last_stats().session_key_bytes, 0u);
  // disable and simulate send nothing anywhere.
  EXPECT_EQ(simulate.last_stats().bytes_up, 0u);
  EXPECT_EQ(simulate.model_info().architecture, "llama");
  EXPECT_EQ(simulate.model_info().fhe, "simulate");
}

// prepare() opens the execute session before the first generate, which
// then uploads no key; a second prepare() and
// prepare() outside execute do nothing; a server that is not there is
// reported by prepare() itself.
TEST(ModelClient, PrepareOpensTheSessionBeforeTheFirstGenerate) {
  Client execute(bundled("execute"));
  execute.prepare();
  execute.prepare();
  const GenerateResult r = execute.generate("Once upon a time", greedy(3));
  EXPECT_EQ(r.ids.size(), 3u);
  EXPECT_EQ(execute.last_stats().key_bytes_up, 0u);  // uploaded by prepare()
  EXPECT_GT(execute.last_stats().session_key_bytes, 0u);

  Client simulate(bundled("simulate"));
  EXPECT_TRUE(simulate.try_prepare().ok());
  simulate.generate("Lily", greedy(1));
  EXPECT_EQ(simulate.last_stats().session_key_bytes, 0u);

  ClientOptions nowhere = bundled("execute");
  nowhere.server_url = "http://127.0.0.1:1";
  nowhere.timeout_seconds = 2;
  Client unreachable(nowhere);  // the session opens at prepare() or the first call, not here
  const Status status = unreachable.try_prepare();
  EXPECT_EQ(status.code(), ErrorCode::server_unavailable) << status.message();
}

TEST(ModelClient, PromptProgressCountsTheLinearGroupsOfThePromptsPass) {
  // stories260K: 5 layers x (qkv, attention out, MLP up, MLP down) + the LM
  // head, each reported once, in order, before the first token; nothing
  // while decoding.
  Client client(bundled("simulate"));
  GenerateOptions g = greedy(5);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  bool text_started = false, reported_after_text = false;
  g.prompt_progress = [&](std::uint64_t done, std::uint64_t total) {
    reported_after_text |= text_started;
    seen.emplace_back(done, total);
  };
  const GenerateResult r = client.generate("Once upon a time", g, [&](std::string_view) {
    text_started = true;
    return true;
  });
  EXPECT_EQ(r.ids.size(), 5u);
  ASSERT_EQ(seen.size(), 21u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, i + 1);
    EXPECT_EQ(seen[i].second, 21u);
  }
  EXPECT_FALSE(reported_after_text);
  // Without a callback the same tokens.
  EXPECT_EQ(client.generate("Once upon a time", greedy(5)).ids, r.ids);
}

TEST(ModelClient, CallbackAndCancelStopTheGeneration) {
  Client client(bundled("disable"));
  int pieces = 0;
  const GenerateResult r = client.generate("Once upon a time", greedy(40), [&](std::string_view) {
    return ++pieces < 3;  // stop after the third piece
  });
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(pieces, 3);
  EXPECT_LT(r.ids.size(), 40u);
  // cancel() from another thread while a generation runs; the next call starts afresh.
  std::atomic<int> seen{0};
  std::thread canceller([&] {
    while (seen.load() == 0) std::this_thread::yield();
    client.cancel();
  });
  const GenerateResult c = client.generate("Lily and Ben", greedy(300), [&](std::string_view) {
    ++seen;
    return true;
  });
  canceller.join();
  EXPECT_TRUE(c.cancelled);
  EXPECT_LT(c.ids.size(), 300u);
  EXPECT_FALSE(client.generate("Lily", greedy(4)).cancelled);
}

TEST(ModelClient, PerplexityPerModeAndModeSwitch) {
  Client client(bundled("simulate"));
  const std::string text = "Once upon a time, there was a little girl named Lily. She liked to play outside.";
  const PerplexityResult s = client.perplexity(text);
  client.set_fhe_mode("disable");
  const PerplexityResult d = client.perplexity(text);
  EXPECT_EQ(s.n_tokens, d.n_tokens);
  EXPECT_EQ(s.n_predicted, s.n_tokens - 1);
  EXPECT_NE(s.perplexity, d.perplexity);  // simulate is quantized
  EXPECT_LT(std::abs(s.perplexity / d.perplexity - 1.0), 0.05);
  EXPECT_EQ(client.model_info().fhe, "disable");
}

TEST(ModelClient, GeneratesFromPromptIdsAsFromText) {
  Client client(bundled("disable"));
  const std::vector<std::int32_t> with_bos = client.tokenize("Once upon a time");
  const std::vector<std::int32_t> raw = client.tokenize("Once upon a time", false);
  ASSERT_EQ(with_bos.size(), raw.size() + 1);
  EXPECT_EQ(with_bos.front(), client.model_info().bos_id);
  EXPECT_EQ(std::vector<std::int32_t>(with_bos.begin() + 1, with_bos.end()), raw);
  EXPECT_TRUE(client.tokenize("", false).empty());
  const GenerateResult from_text = client.generate("Once upon a time", greedy(8));
  const GenerateResult from_ids = client.generate_from_ids(with_bos, greedy(8));
  EXPECT_EQ(from_ids.ids, from_text.ids);
  EXPECT_EQ(from_ids.text, from_text.text);
  EXPECT_EQ(from_ids.prompt_ids, with_bos);
  // Nothing is added: the model sees the ids given (a chat template writes its own BOS).
  EXPECT_EQ(client.generate_from_ids(raw, greedy(8)).prompt_ids, raw);
  EXPECT_EQ(client.last_stats().n_prompt_tokens, raw.size());
  EXPECT_THROW(client.generate_from_ids({}, greedy(1)), Error);
  GenerateResult r;
  const std::vector<std::int32_t> outside = {1, 512};
  EXPECT_EQ(client.try_generate_from_ids(outside, greedy(1), {}, r).code(), ErrorCode::unknown_token);
}

TEST(ModelClient, StopStringsContextSizeAndSamplingOptions) {
  Client client(bundled("disable"));
  const GenerateResult full = client.generate("Once upon a time", greedy(40));
  const std::size_t at = full.text.find(' ', 8);
  ASSERT_NE(at, std::string::npos) << full.text;
  GenerateOptions g = greedy(40);
  g.stop = {"zzz-never", full.text.substr(at, 3)};
  std::string streamed;
  const GenerateResult stopped = client.generate("Once upon a time", g, [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(stopped.text, full.text.substr(0, at));
  EXPECT_EQ(streamed, stopped.text);  // the stop string never reached on_text
  EXPECT_EQ(stopped.stop, g.stop[1]);
  EXPECT_FALSE(stopped.cancelled);
  EXPECT_LT(stopped.ids.size(), full.ids.size());
  // Until the end of a 24-position context: the prompt and 25 - n_prompt new tokens.
  GenerateOptions until_end = greedy(kUntilContextEnd);
  until_end.context_size = 24;
  const GenerateResult r = client.generate("Once upon a time", until_end);
  EXPECT_EQ(r.prompt_ids.size() + r.ids.size(), 25u);
  until_end.max_tokens = 30;
  EXPECT_THROW(client.generate("Once upon a time", until_end), Error);
  until_end.context_size = 100000;
  EXPECT_THROW(client.generate("Once", until_end), Error);
  // The repeat penalty reaches the sampler: greedy text changes.
  GenerateOptions penalized = greedy(40);
  penalized.repeat_penalty = 100.0f;
  EXPECT_NE(client.generate("Once upon a time", penalized).ids, full.ids);
  // disable computes the "remote" modules here: no remote call.
  EXPECT_EQ(client.last_stats().remote_calls, 0u);
}

TEST(ModelClient, NewSessionSharesTheModelWithItsOwnFigures) {
  Client first(bundled("simulate"));
  GenerateOptions sampled = greedy(10);
  sampled.temperature = 0.8f;
  sampled.seed = 3;
  const GenerateResult a = first.generate("Lily", sampled);
  Client second = first.new_session();
  EXPECT_EQ(second.model_info().fhe, "simulate");
  EXPECT_EQ(second.model_info().n_remote_modules, first.model_info().n_remote_modules);
  const GenerateResult b = second.generate("Lily", sampled);
  EXPECT_EQ(b.ids, a.ids);
  EXPECT_GT(second.last_stats().remote_calls, 0u);
  second.set_fhe_mode("disable");  // its own mode: the first Client's stays
  EXPECT_EQ(first.model_info().fhe, "simulate");
}

TEST(ModelClient, StatusesInsteadOfExceptions) {
  Status status;
  ClientOptions missing = bundled("simulate");
  missing.model = "/nonexistent/model.bin";
  EXPECT_EQ(Client::try_open(missing, status), nullptr);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::file_not_found);
  EXPECT_NE(status.message().find("/nonexistent/model.bin"), std::string::npos) << status.message();

  ClientOptions both = bundled("simulate");
  both.artifact = "x.client";
  EXPECT_EQ(Client::try_open(both, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);

  ClientOptions server_without_execute = bundled("disable");
  server_without_execute.server_url = "http://127.0.0.1:1";
  EXPECT_EQ(Client::try_open(server_without_execute, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);

  ClientOptions bad_mode = bundled("fast");
  EXPECT_EQ(Client::try_open(bad_mode, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::bad_mode);

  auto client = Client::try_open(bundled("disable"), status);
  ASSERT_NE(client, nullptr) << status.message();
  EXPECT_TRUE(status.ok());
  GenerateResult r;
  status = client->try_generate("Once", greedy(100000), {}, r);
  EXPECT_EQ(status.code(), ErrorCode::context_overflow);
  PerplexityResult p;
  status = client->try_perplexity("", {}, p);
  EXPECT_FALSE(status.ok());
  status = client->try_generate("Once", greedy(3), [](std::string_view) -> bool { throw std::runtime_error("boom"); }, r);
  EXPECT_EQ(status.code(), ErrorCode::internal_error);
  EXPECT_NE(status.message().find("boom"), std::string::npos);
}

}  // namespace
}  // namespace fhellm
