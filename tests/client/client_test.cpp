// The client facade on the bundled model: the three modes, streaming and
// cancelling, the figures of a call, and statuses instead of exceptions.
#include "fhellm/client.h"

#include <gtest/gtest.h>

#include <thread>

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
  EXPECT_EQ(st.remote_calls, 21u * 6);  // 5 layers x 4 groups + the head, per forward pass
  EXPECT_GT(st.bytes_up, 0u);
  EXPECT_GT(st.bytes_down, 0u);
  EXPECT_GT(st.session_key_bytes, 0u);
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
  // disable and simulate send nothing anywhere.
  EXPECT_EQ(simulate.last_stats().bytes_up, 0u);
  EXPECT_EQ(simulate.model_info().architecture, "llama");
  EXPECT_EQ(simulate.model_info().fhe, "simulate");
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
  status = client->try_perplexity("", 0, p);
  EXPECT_FALSE(status.ok());
  status = client->try_generate("Once", greedy(3), [](std::string_view) -> bool { throw std::runtime_error("boom"); }, r);
  EXPECT_EQ(status.code(), ErrorCode::internal_error);
  EXPECT_NE(status.message().find("boom"), std::string::npos);
}

}  // namespace
}  // namespace fhellm
