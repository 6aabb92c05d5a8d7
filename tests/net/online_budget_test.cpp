// The online mode (docs/online.md) behind the network server: its calls need
// the key like any call, and every row they query on W counts in the key's
// rows budget (issue 17, docs/threat-model.md): the masked rows of the online
// phase one each, the offline phase's mask products as the encrypted rows
// they are (two per row: R mod a and R mod b); the info query costs none.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/online_backend.h"
#include "hybrid/online_precompute.h"
#include "hybrid/online_wire.h"
#include "net/api_keys.h"
#include "net/http_channel.h"
#include "net/server.h"

namespace fhellm::net {
namespace {

using namespace std::chrono_literals;

// The first remote product (the token table, first when remote, is read by
// the encrypted lookup, not by the online mode).
const hybrid::RemoteLinearInfo& first_product(const hybrid::RemoteModelDescription& d) {
  for (const auto& l : d.linears)
    if (!model::is_embedding(hybrid::linear_from_wire_id(l.wire_id).kind)) return l;
  throw std::logic_error("no remote product");
}

const std::filesystem::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // accepted
}

// T masked rows for `layer`, uniform mod p.
Bytes masked_rows(const hybrid::online::OnlineLayerInfo& layer, std::uint32_t rows) {
  hybrid::online::OnlineRows m;
  m.rows = rows;
  m.k = layer.k;
  m.n = layer.n;
  m.p = layer.p;
  m.digest = layer.digest;
  m.values.resize(std::size_t{rows} * layer.k);
  std::mt19937_64 rng(7);
  for (auto& v : m.values) v = static_cast<std::uint32_t>(rng() % m.p);
  return hybrid::online::encode_online_rows(m);
}

class OnlineBudget : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hybrid::HybridModel hm = hybrid::HybridModel::load(kStories);
    hybrid::RemoteServiceOptions o;
    o.online = true;
    service_ = hybrid::make_remote_service(hm, o);
  }
  static void TearDownTestSuite() { service_.reset(); }

  void start(const std::string& name, KeyLimits limits, std::string* key) {
    *key = store_.add(name, limits);
    ServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.api_keys = std::make_shared<const ApiKeyStore>(store_);
    server_ = std::make_unique<Server>(*service_, c);
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  ChannelConfig channel(const std::string& key) const {
    ChannelConfig c;
    c.url = "http://127.0.0.1:" + std::to_string(server_->port());
    c.connect_timeout = 2s;
    c.io_timeout = 60s;
    c.api_key = key;
    c.retry.attempts = 1;  // every refusal is seen
    return c;
  }
  std::uint64_t rows_counted() const {
    const ServerMetrics m = server_->metrics();
    return m.keys.empty() ? 0 : m.keys[0].rows;
  }

  static inline std::shared_ptr<hybrid::RemoteLinearService> service_;
  ApiKeyStore store_;
  std::unique_ptr<Server> server_;
};

TEST_F(OnlineBudget, MaskedRowsCountInTheKeysRowsBudget) {
  std::string dave;
  start("dave", {0, 0, 10}, &dave);
  // Without the key: refused before anything, as any call.
  EXPECT_EQ(code_of([&] { HttpChannel(channel("")).open_session(he::LinearServerKeys{}.save()); }),
            ErrorCode::unauthorized);
  HttpChannel ch(channel(dave));
  ch.open_session(he::LinearServerKeys{}.save());  // an online-only session: no key held
  const std::uint32_t wire = first_product(service_->model_description()).wire_id;
  const auto layers = hybrid::query_online_info(ch, wire);
  EXPECT_EQ(rows_counted(), 0u) << "the info query is public and costs no row";
  const auto& layer = layers.at(0);
  const std::uint32_t ids[] = {layer.wire_id};
  EXPECT_NO_THROW(ch.call(ids, masked_rows(layer, 6)));
  EXPECT_EQ(rows_counted(), 6u);
  EXPECT_EQ(code_of([&] { ch.call(ids, masked_rows(layer, 6)); }), ErrorCode::rate_limited);
  EXPECT_NO_THROW(ch.call(ids, masked_rows(layer, 4)));
  EXPECT_EQ(rows_counted(), 10u);
  // A hostile row count is refused from the header, not charged.
  Bytes lying = masked_rows(layer, 1);
  lying[8] = 200;  // claims 200 rows, carries one
  EXPECT_EQ(code_of([&] { ch.call(ids, lying); }), ErrorCode::truncated);
  EXPECT_EQ(rows_counted(), 10u);
  EXPECT_EQ(server_->metrics().keys.at(0).rate_limited, 1u);
}

TEST_F(OnlineBudget, TheOfflinePhaseCountsTwoEncryptedRowsPerMaskRow) {
  std::string erin;
  start("erin", {0, 0, 0}, &erin);
  HttpChannel ch(channel(erin));
  const hybrid::RemoteLinearInfo& first = first_product(service_->model_description());
  const he::LinearClient client({he::linear_resident_layout(first.n_in, first.n_out, he::LinearPrecision::standard)
                                     .param_id});
  ch.open_session(client.server_keys().save());
  const auto layers = hybrid::query_online_info(ch, first.wire_id);
  const auto layer = std::find_if(layers.begin(), layers.end(), [&](const auto& l) { return l.wire_id == first.wire_id; });
  ASSERT_NE(layer, layers.end());
  const hybrid::MaterialBatch batch = hybrid::make_material(ch, client, *layer, 3);
  EXPECT_EQ(batch.rows.size(), 3u);
  EXPECT_EQ(rows_counted(), 2u * 3) << "R mod a and R mod b: two encrypted rows per mask row";
}

// The HTTP status of the online codes a server sends: refusals of the
// request (400), like precision_not_served; the client-side codes would be
// security refusals (403) if a service ever sent them.
TEST(OnlineHttpStatus, OnlineCodesMapToTheirKinds) {
  EXPECT_EQ(http_status_for(ErrorCode::online_not_served), 400);
  EXPECT_EQ(http_status_for(ErrorCode::stale_material), 400);
  EXPECT_EQ(http_status_for(ErrorCode::precision_not_served), 400);
  EXPECT_EQ(http_status_for(ErrorCode::mask_reused), 403);
  EXPECT_EQ(http_status_for(ErrorCode::material_corrupt), 403);
}

}  // namespace
}  // namespace fhellm::net
