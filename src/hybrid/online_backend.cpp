#include "hybrid/online_backend.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>

#include "fhellm/error.h"
#include "he/linear.h"

namespace fhellm::hybrid {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

std::vector<online::OnlineLayerInfo> query_online_info(RemoteChannel& channel, std::uint32_t any_wire_id) {
  const std::uint32_t ids[] = {any_wire_id};
  return online::decode_online_info(channel.call(ids, online::encode_online_query()));
}

struct OnlineBackend::Layer {
  online::OnlineLayerInfo info;
  quant::QuantizedWeights dequant;  // scales and row sums only
  const float* bias = nullptr;
};

namespace {
constexpr std::uint32_t kLmHeadWireId = 4;
// Ids per online table call: each is V bytes up (50 KB for GPT-2), so a
// 512-id prompt goes in 8 calls of 3.2 MB instead of one of 26 MB.
constexpr std::size_t kOnlineTableCallRows = 64;
}

OnlineBackend::OnlineBackend(const model::Model& model, std::unique_ptr<RemoteChannel> channel,
                             std::shared_ptr<OnlineStore> store, FallbackFactory fallback, int activation_bits,
                             std::shared_ptr<OnlineStats> stats)
    : model_(model),
      channel_(std::move(channel)),
      store_(std::move(store)),
      make_fallback_(std::move(fallback)),
      activation_bits_(activation_bits),
      stats_(stats ? std::move(stats) : std::make_shared<OnlineStats>()) {
  require(channel_ != nullptr && store_ != nullptr && make_fallback_ != nullptr, ErrorCode::invalid_argument,
          "online backend: no channel, store or fallback");
}

OnlineBackend::~OnlineBackend() {
  return_rows();
  channel_->close();
}

void OnlineBackend::return_rows() noexcept {
  for (auto& [wire, pool] : pools_) {
    const online::OnlineLayerInfo& info = info_.at(wire);
    while (!pool.empty()) {
      MaterialBatch b;
      b.wire_id = wire;
      b.n = info.n;
      b.k = info.k;
      b.p = info.p;
      b.digest = info.digest;
      while (!pool.empty() && b.rows.size() < kMaxBatchRows) {
        b.rows.push_back(std::move(pool.front()));
        pool.pop_front();
      }
      try {
        store_->put(b);
      } catch (...) {
        // Lost, never reused: the rows are wiped with the batch.
      }
    }
  }
}

// No evaluation keys: the online calls need none (the fallback opens its own session).
void OnlineBackend::prepare() {
  if (!open_) open_session();
}

void OnlineBackend::open_session() {
  const auto start = Clock::now();
  const Bytes keys = he::LinearServerKeys{}.save();
  description_ = RemoteModelDescription::decode(channel_->open_session(keys));
  check_description(description_, model_);
  require(!description_.linears.empty(), ErrorCode::bad_artifact, "the server holds no remote layer");
  for (const online::OnlineLayerInfo& i : query_online_info(*channel_, description_.linears.front().wire_id))
    info_[i.wire_id] = i;
  open_ = true;
  stats_->session.open_seconds += seconds_since(start);
  stats_->session.key_upload_bytes = channel_->stats().session_bytes_up;
  stats_->session.n_sessions_opened += 1;
  stats_->session.channel = channel_->stats();
}

OnlineBackend::Layer& OnlineBackend::layer(LinearId id) {
  const std::uint32_t wire = linear_wire_id(id);
  if (auto it = layers_.find(wire); it != layers_.end()) return *it->second;
  const RemoteLinearInfo& remote = description_.find(wire);
  check_layer_shape(remote, model_, id);
  auto it = info_.find(wire);
  // A table's info is (n = width, k = V); its description (n_out = V, n_in = width).
  const bool table = model::is_embedding(id.kind);
  const std::uint32_t n = table ? remote.n_in : remote.n_out, k = table ? remote.n_out : remote.n_in;
  require(it != info_.end() && it->second.n == n && it->second.k == k &&
              it->second.p == online::online_modulus(table, k),
          ErrorCode::bad_artifact, model::linear_name(id) + ": the server's online info does not describe this layer");
  auto l = std::make_unique<Layer>();
  l->info = it->second;
  l->dequant = description_.dequantization(wire);
  l->bias = model_.linear(id).bias;
  return *layers_.emplace(wire, std::move(l)).first->second;
}

void OnlineBackend::prefetch(std::size_t rows) {
  prefetched_ = true;
  std::map<std::uint32_t, bool> exhausted;
  for (;;) {
    std::vector<std::uint32_t> wires;
    std::vector<online::WeightsDigest> digests;
    for (const auto& [wire, info] : info_) {
      const std::size_t want = wire == kLmHeadWireId ? 1 : rows;
      if (!exhausted[wire] && pools_[wire].size() < want) {
        wires.push_back(wire);
        digests.push_back(info.digest);
      }
    }
    if (wires.empty()) return;
    std::vector<std::optional<MaterialBatch>> batches = store_->take(digests);
    for (std::size_t i = 0; i < wires.size(); ++i) {
      if (!batches[i]) {
        exhausted[wires[i]] = true;
        continue;
      }
      const online::OnlineLayerInfo& info = info_.at(wires[i]);
      require(batches[i]->wire_id == info.wire_id && batches[i]->n == info.n && batches[i]->k == info.k &&
                  batches[i]->p == info.p,
              ErrorCode::material_corrupt, "online material filed under a layer's weights has another shape");
      for (MaskRow& row : batches[i]->rows) pools_[wires[i]].push_back(std::move(row));
    }
  }
}

std::vector<MaskRow> OnlineBackend::take_rows(Layer& l, std::size_t count) {
  std::deque<MaskRow>& pool = pools_[l.info.wire_id];
  while (pool.size() < count) {
    std::optional<MaterialBatch> batch = store_->take(l.info.digest);
    if (!batch) break;
    require(batch->wire_id == l.info.wire_id && batch->n == l.info.n && batch->k == l.info.k && batch->p == l.info.p,
            ErrorCode::material_corrupt, "online material filed under this layer's weights has another shape");
    for (MaskRow& row : batch->rows) pool.push_back(std::move(row));
  }
  std::vector<MaskRow> out;
  while (out.size() < count && !pool.empty()) {
    out.push_back(std::move(pool.front()));
    pool.pop_front();
  }
  return out;
}

void OnlineBackend::run_online(Layer& l, const quant::QuantizedRows& q, std::vector<MaskRow>& masks, float* y) {
  const std::uint32_t rows = static_cast<std::uint32_t>(masks.size()), k = l.info.k, n = l.info.n;
  const std::uint64_t p = l.info.p;
  online::OnlineRows message;
  message.rows = rows;
  message.k = k;
  message.n = n;
  message.p = p;
  message.digest = l.info.digest;
  message.values.resize(std::size_t{rows} * k);
  for (std::uint32_t t = 0; t < rows; ++t) {
    // The row is marked used before any of it leaves.
    std::vector<std::uint32_t> r = expand_mask(masks[t].use(), k, p);
    for (std::uint32_t i = 0; i < k; ++i) {
      // X' - R mod p for the centred X' = X - 128: x + 2p - 128 - r is in [p - 127, 2p + 127].
      std::uint64_t v = q.values[std::size_t{t} * k + i] + 2 * p - 128 - r[i];
      v = v >= p ? v - p : v;
      message.values[std::size_t{t} * k + i] = static_cast<std::uint32_t>(v >= p ? v - p : v);
    }
    OPENSSL_cleanse(r.data(), r.size() * sizeof(std::uint32_t));
  }
  const std::uint32_t ids[] = {l.info.wire_id};
  const Bytes reply = channel_->call(ids, online::encode_online_rows(message));
  const std::vector<std::uint32_t> vw = online::decode_online_result(reply, rows, n, p);
  // X' W^T = V W^T + R W^T mod p, centred (|X' W^T| <= k 128 128 < p / 2),
  // then X W^T = X' W^T + 128 (row sum of W_j).
  std::vector<std::int64_t> acc(std::size_t{rows} * n);
  const auto half = static_cast<std::int64_t>(p / 2), pm = static_cast<std::int64_t>(p);
  const std::vector<std::int32_t>& row_sums = l.dequant.row_sums;
  for (std::uint32_t t = 0; t < rows; ++t) {
    const std::span<const std::uint32_t> s = masks[t].product();
    for (std::uint32_t j = 0; j < n; ++j) {
      const auto sum = static_cast<std::int64_t>(vw[std::size_t{t} * n + j]) + s[j];  // < 2p
      const std::int64_t v = sum >= pm ? sum - pm : sum;
      acc[std::size_t{t} * n + j] = (v > half ? v - pm : v) + 128 * static_cast<std::int64_t>(row_sums[j]);
    }
  }
  quant::dequantize_product(acc.data(), q, l.dequant, l.bias, y);
}

void OnlineBackend::run_online_lookup(Layer& l, std::span<const TokenId> ids, std::vector<MaskRow>& masks,
                                      float* out) {
  const std::uint32_t rows = static_cast<std::uint32_t>(masks.size()), v = l.info.k, width = l.info.n;
  online::OnlineRows message;
  message.rows = rows;
  message.k = v;
  message.n = width;
  message.p = he::kOnlineTableModulus;
  message.digest = l.info.digest;
  message.bytes.resize(std::size_t{rows} * v);
  for (std::uint32_t t = 0; t < rows; ++t) {
    require(ids[t] < v, ErrorCode::invalid_argument,
            "online lookup: id " + std::to_string(ids[t]) + " outside a table of " + std::to_string(v) + " rows");
    // onehot(id) - R mod 2^8; the row is marked used before any of it leaves.
    std::vector<std::uint32_t> r = expand_mask(masks[t].use(), v, he::kOnlineTableModulus);
    std::uint8_t* row = message.bytes.data() + std::size_t{t} * v;
    for (std::uint32_t i = 0; i < v; ++i) row[i] = static_cast<std::uint8_t>(256 - r[i]);
    row[ids[t]] = static_cast<std::uint8_t>(row[ids[t]] + 1);
    OPENSSL_cleanse(r.data(), r.size() * sizeof(std::uint32_t));
  }
  const std::uint32_t wire[] = {l.info.wire_id};
  const Bytes reply = channel_->call(wire, online::encode_online_rows(message));
  const std::vector<std::uint32_t> ve = online::decode_online_result(reply, rows, width, he::kOnlineTableModulus);
  // E[id] = V E + R E mod 2^8, centred: the table's values are in [-127, 127].
  for (std::uint32_t t = 0; t < rows; ++t) {
    const std::span<const std::uint32_t> s = masks[t].product();
    const float scale = l.dequant.scales[ids[t]];
    for (std::uint32_t j = 0; j < width; ++j) {
      const std::uint32_t value = (ve[std::size_t{t} * width + j] + s[j]) & 255;
      out[std::size_t{t} * width + j] = scale * static_cast<float>(value >= 128 ? static_cast<int>(value) - 256
                                                                                 : static_cast<int>(value));
    }
  }
}

void OnlineBackend::lookup(LinearId table, std::span<const TokenId> ids, float* out) {
  const auto start = Clock::now();
  if (!open_) open_session();
  if (!info_.contains(linear_wire_id(table))) {  // the server serves this table's rows encrypted only
    if (!fallback_) fallback_ = make_fallback_();
    fallback_->lookup(table, ids, out);
    stats_->fallback_rows += ids.size();
    return;
  }
  // The first call (a prompt's ids) fills every group's pool for its rows.
  if (!prefetched_) prefetch(std::min<std::size_t>(ids.size(), he::kLinearMaxRows));
  Layer& l = layer(table);
  const std::size_t width = l.info.n;
  double fallback_seconds = 0;
  // Calls of at most kOnlineTableCallRows ids: a row is V bytes on the wire.
  for (std::size_t r0 = 0; r0 < ids.size(); r0 += kOnlineTableCallRows) {
    const std::size_t t = std::min(kOnlineTableCallRows, ids.size() - r0);
    std::vector<MaskRow> masks = take_rows(l, t);
    const std::size_t m = masks.size();
    if (m > 0) {
      run_online_lookup(l, ids.subspan(r0, m), masks, out + r0 * width);
      stats_->online_rows += m;
    }
    if (m < t) {  // material ran out: these ids go through the encrypted lookup
      const auto fallback_start = Clock::now();
      if (!fallback_) fallback_ = make_fallback_();
      fallback_->lookup(table, ids.subspan(r0 + m, t - m), out + (r0 + m) * width);
      stats_->fallback_rows += t - m;
      fallback_seconds += seconds_since(fallback_start);
    }
  }
  account(start, fallback_seconds, ids.size());
}

void OnlineBackend::apply(LinearId id, const float* x, std::size_t rows, float* y) {
  const auto start = Clock::now();
  if (!open_) open_session();
  // The first call's rows (a prompt's) for every group at once: the store's
  // journal is written and synced once per round instead of once per group.
  if (!prefetched_) prefetch(std::min<std::size_t>(rows, he::kLinearMaxRows));
  Layer& l = layer(id);
  const std::size_t k = l.info.k, n = l.info.n;
  double fallback_seconds = 0;
  // The online payload takes at most kLinearMaxRows rows, like the encrypted product.
  for (std::size_t r0 = 0; r0 < rows; r0 += he::kLinearMaxRows) {
    const std::size_t t = std::min<std::size_t>(he::kLinearMaxRows, rows - r0);
    std::vector<MaskRow> masks = take_rows(l, t);
    const std::size_t m = masks.size();
    if (m > 0) {
      quant::quantize_rows(x + r0 * k, m, k, activation_bits_, rows_);
      run_online(l, rows_, masks, y + r0 * n);
      stats_->online_rows += m;
    }
    if (m < t) {  // material ran out: these rows go encrypted
      const auto fallback_start = Clock::now();
      if (!fallback_) fallback_ = make_fallback_();
      fallback_->apply(id, x + (r0 + m) * k, t - m, y + (r0 + m) * n);
      stats_->fallback_rows += t - m;
      fallback_seconds += seconds_since(fallback_start);
    }
  }
  account(start, fallback_seconds, rows);
}

void OnlineBackend::account(std::chrono::steady_clock::time_point start, double fallback_seconds, std::size_t rows) {
  const double spent = seconds_since(start);
  const ChannelStats before = stats_->session.channel, after = channel_->stats();
  const double remote = (after.server_seconds - before.server_seconds) + (after.network_seconds - before.network_seconds);
  stats_->session.channel = after;
  stats_->session.client_seconds += std::max(0.0, spent - fallback_seconds - remote);
  stats_->session.n_calls += 1;
  stats_->session.n_rows += rows;
  LinearBackend::stats_.n_calls += 1;
  LinearBackend::stats_.n_rows += rows;
  LinearBackend::stats_.seconds += spent;
}

std::size_t OnlineBackend::rows_available(LinearId id) {
  if (!open_) open_session();
  Layer& l = layer(id);
  return pools_[l.info.wire_id].size() + store_->rows_available(l.info.digest);
}

}  // namespace fhellm::hybrid
