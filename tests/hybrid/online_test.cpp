// The online mode end to end with the server in this process
// (docs/online.md): precomputed material, then generation whose ids equal
// simulate's at exact precision on the bundled stories260K and the trained
// GPT-2 of ../shared; running out of material falls back to the encrypted
// path with the same ids; rows not used go back to the store; a server
// without online weights refuses; hostile online payloads get their codes.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/hybrid_model_io.h"
#include "hybrid/online_backend.h"
#include "hybrid/online_precompute.h"
#include "hybrid/remote_model.h"
#include "hybrid/simulate_backend.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;

const fs::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const fs::path kShared = FHELLM_SHARED_DIR;
const GenerateOptions kGreedy{{0.0f, 0, 1.0f, 0}, false};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "fhellm-online-e2e-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

ClientSecret test_secret() {
  SecretKey32 k{};
  k.fill(42);
  return ClientSecret(k);
}

// A model, its in-process server (online weights kept) and a store.
struct OnlineRig {
  HybridModel hm;
  std::shared_ptr<RemoteLinearService> service;
  TempDir dir;
  std::shared_ptr<OnlineStore> store;
  std::shared_ptr<OnlineStats> stats = std::make_shared<OnlineStats>();

  OnlineRig(const fs::path& model, std::vector<he::LinearPrecision> precisions, bool online = true,
            int weight_privacy_bits = 0)
      : hm(HybridModel::load(model)) {
    hm.set_precision(he::LinearPrecision::exact);  // what the online mode equals
    RemoteServiceOptions o;
    o.precisions = std::move(precisions);
    o.online = online;
    o.weight_privacy_bits = weight_privacy_bits;
    service = make_remote_service(hm, o);
    store = std::make_shared<OnlineStore>(dir.path, test_secret());
    const int bits = hm.quantization().activation_bits;
    hm.set_backend_factory(FheMode::execute, [this, bits](HybridModel& m) -> std::unique_ptr<LinearBackend> {
      auto fallback = [this, &m, bits]() -> std::unique_ptr<LinearBackend> {
        ExecuteOptions e;
        e.precision = he::LinearPrecision::exact;
        e.activation_bits = bits;
        return std::make_unique<ExecuteBackend>(m.model(), std::make_unique<InProcessChannel>(*service), e);
      };
      return std::make_unique<OnlineBackend>(m.model(), std::make_unique<InProcessChannel>(*service), store, fallback,
                                             bits, stats);
    });
  }

  PrecomputeResult precompute(std::size_t rows, std::size_t head_rows, PrecomputeOptions o = {}) {
    he::LinearClient client;
    InProcessChannel channel(*service);
    const Bytes description = channel.open_session(client.server_keys().save());
    const RemoteModelDescription d = RemoteModelDescription::decode(description);
    o.rows = rows;
    o.head_rows = head_rows;
    o.weight_privacy_bits = d.weight_privacy_bits;  // the mask calls are planned with the server's
    const auto info = query_online_info(channel, d.linears[0].wire_id);
    return precompute_online(channel, client, info, *store, o);
  }

  std::vector<TokenId> ids(FheMode mode, const std::vector<TokenId>& prompt, std::size_t n) {
    hm.set_mode(mode);
    auto out = hm.generate(prompt, n, kGreedy).ids;
    hm.set_mode(FheMode::disable);  // drops the online backend: unused rows go back
    return out;
  }

  std::size_t rows_stored(std::uint32_t wire) {
    InProcessChannel channel(*service);
    channel.open_session(he::LinearServerKeys{}.save());
    for (const auto& i : query_online_info(channel, wire))
      if (i.wire_id == wire) return store->rows_available(i.digest);
    return 0;
  }
};

const std::vector<TokenId> kPrompt = {1, 403, 407, 261, 378};

TEST(OnlineModel, Stories260KGivesTheExactSimulateTokens) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard});
  // 5 prompt rows + 7 decode rows per group and for the token table (one
  // lookup per token but the last); the LM head once per token.
  const PrecomputeResult made = rig.precompute(12, 8);
  EXPECT_EQ(made.rows_made, 21u * 12 + 8);
  EXPECT_EQ(made.calls, 2u * 21 + 1);  // two products per batch, one batch per group; one table call
  const auto simulated = rig.ids(FheMode::simulate, kPrompt, 8);
  EXPECT_EQ(rig.ids(FheMode::execute, kPrompt, 8), simulated);
  EXPECT_EQ(rig.stats->online_rows, 20u * 5 + 1 + 21u * 7 + 12u);
  EXPECT_EQ(rig.stats->fallback_rows, 0u);
  // No encrypted session at all: the table's rows came online too.
  EXPECT_EQ(rig.stats->session.key_upload_bytes, he::LinearServerKeys{}.save().size() + 0u);
  EXPECT_EQ(rig.rows_stored(linear_wire_id({0, LinearKind::qkv})), 0u);  // every row used, none kept
  EXPECT_EQ(rig.rows_stored(4), 0u);
  EXPECT_EQ(rig.rows_stored(linear_wire_id(LinearId{-1, LinearKind::token_embedding})), 0u);
}

// The groups take a batch each in turn, and `stop` ends a run between two
// batches with what was made stored: a background top-up interrupted by a
// request leaves every group rows to use (fhellm gateway --online).
TEST(OnlinePrecompute, GroupsTakeTurnsAndStopEndsARunBetweenBatches) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard});
  const std::uint32_t first = linear_wire_id({0, LinearKind::qkv});
  const std::uint32_t table = linear_wire_id(LinearId{-1, LinearKind::token_embedding});
  PrecomputeOptions o;
  o.batch_rows = 2;
  std::size_t asked = 0;
  o.stop = [&] { return ++asked > 22; };  // 21 groups and the head: one round
  const PrecomputeResult first_run = rig.precompute(6, 3, o);
  EXPECT_EQ(first_run.rows_made, 22u * 2);
  EXPECT_EQ(asked, 23u);
  EXPECT_EQ(rig.rows_stored(first), 2u);
  EXPECT_EQ(rig.rows_stored(4), 2u);
  EXPECT_EQ(rig.rows_stored(table), 2u);
  // Nothing stops the next run: it tops every group up from there.
  const PrecomputeResult second = rig.precompute(6, 3);
  EXPECT_EQ(second.rows_present, 22u * 2);
  EXPECT_EQ(second.rows_made, 21u * 4 + 1);
  EXPECT_EQ(rig.rows_stored(first), 6u);
  EXPECT_EQ(rig.rows_stored(4), 3u);
  // A stop at the first ask makes nothing.
  o.stop = [] { return true; };
  EXPECT_EQ(rig.precompute(8, 3, o).rows_made, 0u);
  EXPECT_EQ(rig.rows_stored(first), 6u);
}

// Layer by layer: the online product's floats equal simulate's bit for bit
// (the same int64 X W^T, then the same dequantization), and so do the
// fallback's once the material is spent.
TEST(OnlineModel, LayerOutputsEqualSimulateBitForBit) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard, he::LinearPrecision::exact});
  rig.precompute(3, 3);
  SimulateBackend simulate(rig.hm.model(), rig.hm.quantized_linears(), he::LinearPrecision::exact);
  const auto online = rig.hm.quantized_linears();  // the remote groups
  auto fallback = [&]() -> std::unique_ptr<LinearBackend> {
    ExecuteOptions e;
    e.precision = he::LinearPrecision::exact;
    return std::make_unique<ExecuteBackend>(rig.hm.model(), std::make_unique<InProcessChannel>(*rig.service), e);
  };
  OnlineBackend backend(rig.hm.model(), std::make_unique<InProcessChannel>(*rig.service), rig.store, fallback, 8,
                        rig.stats);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-3.0f, 3.0f);
  std::size_t products = 0;
  for (LinearId id : online->ids()) {
    if (model::is_embedding(id.kind)) continue;  // the table: the encrypted lookup in every mode
    ++products;
    const model::LinearView view = rig.hm.model().linear(id);
    for (int call = 0; call < 2; ++call) {  // 3 rows online, then 3 rows encrypted
      std::vector<float> x(3 * view.n_in), ys(3 * view.n_out), yo(3 * view.n_out, -1.0f);
      for (float& v : x) v = d(rng);
      simulate.apply(id, x.data(), 3, ys.data());
      backend.apply(id, x.data(), 3, yo.data());
      EXPECT_EQ(yo, ys) << model::linear_name(id) << (call == 0 ? " online" : " fallback");
    }
  }
  EXPECT_EQ(rig.stats->online_rows, 3u * products);
  EXPECT_EQ(rig.stats->fallback_rows, 3u * products);
  // The token table: 3 ids online, then 3 through the encrypted lookup, the
  // rows of simulate's int8 table bit for bit both ways.
  const LinearId table = LinearId{-1, LinearKind::token_embedding};
  const std::size_t width = rig.hm.model().config().dim;
  for (int call = 0; call < 2; ++call) {
    const std::vector<TokenId> ids = {0, 511, static_cast<TokenId>(137 + call)};
    std::vector<float> ys(3 * width), yo(3 * width, -1.0f);
    simulate.lookup(table, ids, ys.data());
    backend.lookup(table, ids, yo.data());
    EXPECT_EQ(yo, ys) << (call == 0 ? "online" : "fallback");
  }
  EXPECT_EQ(rig.stats->online_rows, 3u * products + 3);
  EXPECT_EQ(rig.stats->fallback_rows, 3u * products + 3);
}

TEST(OnlineModel, RunningOutFallsBackToTheEncryptedPath) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard, he::LinearPrecision::exact});
  rig.precompute(6, 3);
  const auto simulated = rig.ids(FheMode::simulate, kPrompt, 8);
  EXPECT_EQ(rig.ids(FheMode::execute, kPrompt, 8), simulated);
  // Each group and the token table: the 5 prompt rows and the first decode
  // row online, then the encrypted path (the table's: 6 lookups); the head:
  // 3 tokens online, 5 encrypted.
  EXPECT_EQ(rig.stats->online_rows, 21u * 6 + 3);
  EXPECT_EQ(rig.stats->fallback_rows, 20u * 6 + 6 + 5);
  // And with nothing stored at all, the whole generation falls back.
  EXPECT_EQ(rig.ids(FheMode::execute, kPrompt, 3), rig.ids(FheMode::simulate, kPrompt, 3));
  EXPECT_EQ(rig.stats->online_rows, 21u * 6 + 3);
}

// The mask products are encrypted calls like any other: a server with weight
// privacy floods their replies and plans them with its S, and the material
// stays exact (the flood fits the masks' noise budget), as does the fallback.
TEST(OnlineModel, AServerWithWeightPrivacyGivesTheExactSimulateTokens) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard, he::LinearPrecision::exact}, true, 2);
  rig.precompute(6, 3);
  const auto simulated = rig.ids(FheMode::simulate, kPrompt, 8);
  EXPECT_EQ(rig.ids(FheMode::execute, kPrompt, 8), simulated);
  EXPECT_EQ(rig.stats->online_rows, 21u * 6 + 3);
  EXPECT_EQ(rig.stats->fallback_rows, 20u * 6 + 6 + 5);
  // Mask calls planned without the server's S are refused, not answered.
  he::LinearClient client;
  InProcessChannel channel(*rig.service);
  channel.open_session(client.server_keys().save());
  const RemoteLinearInfo& l = *std::find_if(
      rig.service->model_description().linears.begin(), rig.service->model_description().linears.end(),
      [](const RemoteLinearInfo& i) { return !model::is_embedding(linear_from_wire_id(i.wire_id).kind); });
  const std::vector<std::uint32_t> r(l.n_in, 1);
  const std::uint32_t ids[] = {l.wire_id};
  try {
    (void)channel.call(ids, client.encrypt_mask(r, {1, l.n_in, l.n_out}, he::LinearPrecision::mask_pow2, 0));
    ADD_FAILURE() << "a mask call planned with S = 0 was answered by an S = 2 server";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::precision_not_served);
  }
}

TEST(OnlineModel, UnusedRowsGoBackToTheStore) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard});
  rig.precompute(20, 10);  // one batch of 20 per group, 10 for the head
  (void)rig.ids(FheMode::execute, kPrompt, 2);  // 6 rows per group, 2 for the head
  EXPECT_EQ(rig.rows_stored(linear_wire_id({0, LinearKind::qkv})), 14u);
  EXPECT_EQ(rig.rows_stored(linear_wire_id({4, LinearKind::mlp_down})), 14u);
  EXPECT_EQ(rig.rows_stored(4), 8u);
  // Those rows serve the next generation: still the exact tokens.
  EXPECT_EQ(rig.ids(FheMode::execute, kPrompt, 3), rig.ids(FheMode::simulate, kPrompt, 3));
  EXPECT_EQ(rig.stats->fallback_rows, 0u);
}

TEST(OnlineModel, AServerWithoutOnlineWeightsRefuses) {
  OnlineRig rig(kStories, {he::LinearPrecision::standard}, false);
  try {
    (void)rig.ids(FheMode::execute, kPrompt, 1);
    ADD_FAILURE() << "online calls to a server without online weights";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::online_not_served);
  }
}

TEST(OnlineModelGpt2VimdocSmall, GivesTheExactSimulateTokens) {
  const fs::path model = kShared / "models/gpt2-vimdoc-small";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
  OnlineRig rig(model, {he::LinearPrecision::standard});
  rig.precompute(13, 8);
  const std::vector<TokenId> prompt = {50256, 1212, 318, 257, 1332, 286};
  const auto simulated = rig.ids(FheMode::simulate, prompt, 8);
  EXPECT_EQ(rig.ids(FheMode::execute, prompt, 8), simulated);
  EXPECT_EQ(rig.stats->fallback_rows, 0u);
}

}  // namespace
}  // namespace fhellm::hybrid
