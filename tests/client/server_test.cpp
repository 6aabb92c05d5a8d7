// The two facades together, as two programs would use them: a server over a
// compiled artifact on a free port, a client of the matching client artifact
// over HTTP; the same tokens as simulate. Then the same through the C API.
#include "fhellm/server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fhellm/client.h"
#include "fhellm/fhellm.h"
#include "hybrid/artifact.h"
#include "net/api_keys.h"
#include "fhellm/version.h"
#include "test_data.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;

class ModelFacades : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fhellm-facades-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    hybrid::compile_artifacts(test_data::bundled_model(), dir_ / "stories", {});
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string path(const char* suffix) { return (dir_ / ("stories" + std::string(suffix))).string(); }

  static std::vector<std::int32_t> simulate_ids(std::size_t n) {
    ClientOptions o;
    o.model = test_data::bundled_model().string();
    o.fhe = "simulate";
    GenerateOptions g;
    g.max_tokens = n;
    return Client(o).generate("Once upon a time", g).ids;
  }

  static fs::path dir_;
};

fs::path ModelFacades::dir_;

TEST_F(ModelFacades, ServerAndClientOverHttpGiveSimulateTokens) {
  ServerOptions so;
  so.artifact = path(".server");
  so.port = 0;
  Server server(so);
  server.start();
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.served_model().architecture, "llama");
  EXPECT_EQ(server.served_model().n_linear_groups, 22u);  // the token table and 21 linear groups

  ClientOptions co;
  co.artifact = path(".client");
  co.server_url = server.url();
  Client client(co);
  GenerateOptions g;
  g.max_tokens = 5;
  const GenerateResult r = client.generate("Once upon a time", g);
  EXPECT_EQ(r.ids, simulate_ids(5));
  EXPECT_GT(client.last_stats().network_ms, 0.0);
  const ServerMetrics m = server.metrics();
  EXPECT_EQ(m.sessions_opened, 1u);
  EXPECT_EQ(m.linear_calls, 22u * r.ids.size());
  EXPECT_NE(server.metrics_text().find("fhellm_linear_calls_total"), std::string::npos);
  server.stop();
  server.stop();  // idempotent
}

// The server's weight privacy is its setting, not the model's: a client of
// the artifact plans its uploads with the server's S (from the description)
// and still gets simulate's tokens.
TEST_F(ModelFacades, AServerWithWeightPrivacyServesTheSameArtifactClient) {
  ServerOptions so;
  so.artifact = path(".server");
  so.port = 0;
  so.weight_privacy_bits = 4;
  Server server(so);
  server.start();
  ClientOptions co;
  co.artifact = path(".client");
  co.server_url = server.url();
  Client client(co);
  GenerateOptions g;
  g.max_tokens = 3;
  EXPECT_EQ(client.generate("Once upon a time", g).ids, simulate_ids(3));
  EXPECT_EQ(server.metrics().errors, 0u);
  so.weight_privacy_bits = 41;
  Status status;
  EXPECT_EQ(Server::try_open(so, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);
}

TEST_F(ModelFacades, ServerStatuses) {
  Status status;
  ServerOptions none;
  EXPECT_EQ(Server::try_open(none, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument);
  ServerOptions missing;
  missing.artifact = "/nonexistent.server";
  EXPECT_EQ(Server::try_open(missing, status), nullptr);
  EXPECT_EQ(status.code(), ErrorCode::file_not_found);
  // Two servers on one port: the second cannot bind.
  ServerOptions so;
  so.artifact = path(".server");
  so.port = 0;
  Server first(so);
  first.start();
  so.port = first.port();
  auto second = Server::try_open(so, status);
  ASSERT_NE(second, nullptr) << status.message();
  status = second->try_start();
  EXPECT_EQ(status.code(), ErrorCode::io_error) << status.message();
}

struct Collected {
  std::string text;
  int calls = 0;
};

int collect(const char* piece, size_t len, void* user) {
  auto* c = static_cast<Collected*>(user);
  c->text.append(piece, len);
  return ++c->calls < 1000;
}

TEST_F(ModelFacades, CApiServesAndGenerates) {
  EXPECT_STREQ(fhellm_version(), FHELLM_VERSION_STRING);
  fhellm_server_params sp = fhellm_server_default_params();
  EXPECT_EQ(sp.port, 8600);
  const std::string server_path = path(".server"), client_path = path(".client");
  sp.artifact = server_path.c_str();
  sp.port = 0;
  fhellm_server* server = nullptr;
  ASSERT_EQ(fhellm_server_open(&sp, &server), FHELLM_OK) << fhellm_last_error();
  ASSERT_EQ(fhellm_server_start(server), FHELLM_OK) << fhellm_last_error();
  const std::string url = "http://127.0.0.1:" + std::to_string(fhellm_server_port(server));

  fhellm_client_params cp = fhellm_client_default_params();
  cp.artifact = client_path.c_str();
  cp.server_url = url.c_str();
  fhellm_client* client = nullptr;
  ASSERT_EQ(fhellm_client_open(&cp, &client), FHELLM_OK) << fhellm_last_error();
  fhellm_generate_params g = fhellm_generate_default_params();
  g.max_tokens = 5;
  Collected pieces;
  char* text = nullptr;
  ASSERT_EQ(fhellm_client_generate(client, "Once upon a time", &g, collect, &pieces, &text), FHELLM_OK)
      << fhellm_last_error();
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(pieces.text, text);
  fhellm_string_free(text);
  fhellm_client_stats st;
  fhellm_client_last_stats(client, &st);
  EXPECT_EQ(st.n_generated_tokens, 5u);
  EXPECT_GT(st.bytes_up, 0u);
  fhellm_server_metrics m;
  fhellm_server_get_metrics(server, &m);
  EXPECT_EQ(m.linear_calls, 22u * 5);

  // Errors: a code, its name, and a message naming the problem.
  double ppl = 0;
  EXPECT_EQ(fhellm_client_set_fhe_mode(client, "simulate"), static_cast<int>(ErrorCode::invalid_argument));
  EXPECT_EQ(fhellm_client_perplexity(client, "Once upon a time there was a cat", 0, &ppl), FHELLM_OK)
      << fhellm_last_error();
  EXPECT_GT(ppl, 1.0);
  // A chat's next turn: the prompt continues the last one, only its new part runs.
  g.reuse_prefix = 1;
  ASSERT_EQ(fhellm_client_set_fhe_mode(client, "execute"), FHELLM_OK) << fhellm_last_error();
  ASSERT_EQ(fhellm_client_generate(client, "Once upon a time", &g, nullptr, nullptr, nullptr), FHELLM_OK)
      << fhellm_last_error();
  ASSERT_EQ(fhellm_client_generate(client, "Once upon a time there", &g, nullptr, nullptr, nullptr), FHELLM_OK)
      << fhellm_last_error();
  fhellm_client_last_stats(client, &st);
  EXPECT_GT(st.n_cached_prompt_tokens, 0u);
  EXPECT_LT(st.n_cached_prompt_tokens, st.n_prompt_tokens);
  // The online mode needs a server that keeps the int8 weights.
  std::uint64_t made = 1;
  EXPECT_EQ(fhellm_client_precompute(client, 2, 1, &made), static_cast<int>(ErrorCode::online_not_served))
      << fhellm_last_error();
  EXPECT_EQ(made, 0u);
  fhellm_client_free(client);
  fhellm_server_stop(server);
  fhellm_server_free(server);

  // The online mode: masks made ahead, then every remote row on one.
  sp.online = 1;
  ASSERT_EQ(fhellm_server_open(&sp, &server), FHELLM_OK) << fhellm_last_error();
  ASSERT_EQ(fhellm_server_start(server), FHELLM_OK) << fhellm_last_error();
  const std::string online_url = "http://127.0.0.1:" + std::to_string(fhellm_server_port(server));
  const std::string store_dir = path(".store"), client_key = path(".key");
  fhellm_client_params op = cp;
  op.server_url = online_url.c_str();
  op.online = 1;
  op.online_store = store_dir.c_str();
  op.client_key = client_key.c_str();
  ASSERT_EQ(fhellm_client_open(&op, &client), FHELLM_OK) << fhellm_last_error();
  ASSERT_EQ(fhellm_client_precompute(client, 12, 5, &made), FHELLM_OK) << fhellm_last_error();
  EXPECT_EQ(made, 21u * 12 + 5);
  g.reuse_prefix = 0;
  ASSERT_EQ(fhellm_client_generate(client, "Once upon a time", &g, nullptr, nullptr, nullptr), FHELLM_OK)
      << fhellm_last_error();
  fhellm_client_last_stats(client, &st);
  EXPECT_EQ(st.online_rows, 21u * (5 + 4) + 5);  // 5 prompt rows + 4 decode rows per group and the table; 5 head rows
  EXPECT_EQ(st.fallback_rows, 0u);
  // The next top-up reuses the offline session: no session opens on the server.
  fhellm_server_get_metrics(server, &m);
  const std::uint64_t opened = m.sessions_opened;
  ASSERT_EQ(fhellm_client_precompute(client, 12, 5, &made), FHELLM_OK) << fhellm_last_error();
  EXPECT_GE(made, 21u * (5 + 4) + 5);  // the rows used, and those the generation holds for its next call
  fhellm_server_get_metrics(server, &m);
  EXPECT_EQ(m.sessions_opened, opened);
  fhellm_client_free(client);
  fhellm_server_free(server);
  sp.online = 0;

  // A keyed server: a client without the key is refused, one with it served.
  const std::string keys = path(".keys");
  net::ApiKeyStore store;
  const std::string key = store.add("alice", {});
  store.save(keys);
  sp.api_keys = keys.c_str();
  ASSERT_EQ(fhellm_server_open(&sp, &server), FHELLM_OK) << fhellm_last_error();
  ASSERT_EQ(fhellm_server_start(server), FHELLM_OK) << fhellm_last_error();
  const std::string keyed = "http://127.0.0.1:" + std::to_string(fhellm_server_port(server));
  cp.server_url = keyed.c_str();
  ASSERT_EQ(fhellm_client_open(&cp, &client), FHELLM_OK) << fhellm_last_error();
  EXPECT_EQ(fhellm_client_perplexity(client, "Once upon a time", 0, &ppl), 708) << fhellm_last_error();  // unauthorized
  fhellm_client_free(client);
  cp.api_key = key.c_str();
  ASSERT_EQ(fhellm_client_open(&cp, &client), FHELLM_OK) << fhellm_last_error();
  EXPECT_EQ(fhellm_client_perplexity(client, "Once upon a time", 0, &ppl), FHELLM_OK) << fhellm_last_error();
  fhellm_client_free(client);
  fhellm_server_free(server);
  // A session store it cannot reach: the server does not open.
  sp.api_keys = nullptr;
  sp.session_store = "redis://127.0.0.1:1";
  server = reinterpret_cast<fhellm_server*>(1);
  EXPECT_NE(fhellm_server_open(&sp, &server), FHELLM_OK);
  EXPECT_EQ(server, nullptr);

  cp = fhellm_client_default_params();
  cp.model = "/nonexistent/model.bin";
  fhellm_client* none = reinterpret_cast<fhellm_client*>(1);
  EXPECT_EQ(fhellm_client_open(&cp, &none), 111);  // file_not_found
  EXPECT_EQ(none, nullptr);
  EXPECT_STREQ(fhellm_error_name(111), "file_not_found");
  // The codes both branches added (trust's 708-709, the online mode's 603-606).
  EXPECT_STREQ(fhellm_error_name(603), "online_not_served");
  EXPECT_STREQ(fhellm_error_name(606), "stale_material");
  EXPECT_STREQ(fhellm_error_name(708), "unauthorized");
  EXPECT_STREQ(fhellm_error_name(709), "server_busy");
  EXPECT_NE(std::string(fhellm_last_error()).find("/nonexistent/model.bin"), std::string::npos) << fhellm_last_error();
  EXPECT_EQ(fhellm_client_open(nullptr, &none), static_cast<int>(ErrorCode::invalid_argument));
  fhellm_client_free(nullptr);
  fhellm_server_free(nullptr);
}

}  // namespace
}  // namespace fhellm
