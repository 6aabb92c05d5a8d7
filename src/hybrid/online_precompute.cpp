#include "hybrid/online_precompute.h"

#include <openssl/crypto.h>

#include <chrono>
#include <string>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/linear_backend.h"

namespace fhellm::hybrid {
namespace {

constexpr std::uint32_t kLmHeadWireId = 4;

std::uint64_t positive_mod(std::int64_t v, std::uint64_t t) {
  const auto m = static_cast<std::int64_t>(t);
  return static_cast<std::uint64_t>(((v % m) + m) % m);
}

// R W^T mod t for the residues r = R mod t, under encryption.
std::vector<std::int64_t> masked_product(RemoteChannel& channel, const he::LinearClient& client,
                                         const online::OnlineLayerInfo& layer, const std::vector<std::uint32_t>& r,
                                         std::uint32_t rows, he::LinearPrecision precision, int privacy_bits) {
  const std::uint32_t ids[] = {layer.wire_id};
  const he::LinearShape shape{rows, layer.k, layer.n};
  const Bytes reply = channel.call(ids, client.encrypt_mask(r, shape, precision, privacy_bits));
  std::vector<std::int64_t> y = client.decrypt(reply);
  require(y.size() == std::size_t{rows} * layer.n, ErrorCode::shape_mismatch, "mask product: wrong result size");
  return y;
}

// A table's rows (docs/online.md section 10): R uniform mod 2^8 over its V
// rows, one mask_table call, S = R E mod 2^8.
MaterialBatch make_table_material(RemoteChannel& channel, const he::LinearClient& client,
                                  const online::OnlineLayerInfo& layer, std::uint32_t rows, int weight_privacy_bits) {
  std::vector<he::Seed> seeds(rows);
  std::vector<std::uint32_t> r(std::size_t{rows} * layer.k);
  for (std::uint32_t t = 0; t < rows; ++t) {
    seeds[t] = he::random_seed();
    const std::vector<std::uint32_t> row = expand_mask(seeds[t], layer.k, layer.p);
    std::copy(row.begin(), row.end(), r.begin() + static_cast<std::ptrdiff_t>(std::size_t{t} * layer.k));
  }
  const auto y = masked_product(channel, client, layer, r, rows, he::LinearPrecision::mask_table, weight_privacy_bits);
  OPENSSL_cleanse(r.data(), r.size() * sizeof(std::uint32_t));
  MaterialBatch batch{layer.wire_id, layer.n, layer.k, layer.p, layer.digest, {}};
  for (std::uint32_t t = 0; t < rows; ++t) {
    std::vector<std::uint32_t> s(layer.n);
    for (std::uint32_t j = 0; j < layer.n; ++j)
      s[j] = static_cast<std::uint32_t>(positive_mod(y[std::size_t{t} * layer.n + j], layer.p));
    batch.rows.emplace_back(seeds[t], std::move(s));
    OPENSSL_cleanse(seeds[t].data(), seeds[t].size());
  }
  return batch;
}

}  // namespace

MaterialBatch make_material(RemoteChannel& channel, const he::LinearClient& client,
                            const online::OnlineLayerInfo& layer, std::uint32_t rows, int weight_privacy_bits) {
  if (layer.p == he::kOnlineTableModulus) return make_table_material(channel, client, layer, rows, weight_privacy_bits);
  const he::OnlineModulus m = he::linear_online_modulus(layer.k);
  require(m.p == layer.p, ErrorCode::parameter_mismatch, "online material: the layer's modulus is not its k's");
  std::vector<he::Seed> seeds(rows);
  std::vector<std::uint32_t> ra(std::size_t{rows} * layer.k), rb(ra.size());
  for (std::uint32_t t = 0; t < rows; ++t) {
    seeds[t] = he::random_seed();
    std::vector<std::uint32_t> r = expand_mask(seeds[t], layer.k, layer.p);
    for (std::uint32_t i = 0; i < layer.k; ++i) {
      ra[std::size_t{t} * layer.k + i] = static_cast<std::uint32_t>(r[i] % m.pow2);
      rb[std::size_t{t} * layer.k + i] = static_cast<std::uint32_t>(r[i] % m.odd);
    }
    OPENSSL_cleanse(r.data(), r.size() * sizeof(std::uint32_t));
  }
  const auto ya = masked_product(channel, client, layer, ra, rows, he::LinearPrecision::mask_pow2, weight_privacy_bits);
  const auto yb = masked_product(channel, client, layer, rb, rows, he::LinearPrecision::mask_odd, weight_privacy_bits);
  OPENSSL_cleanse(ra.data(), ra.size() * sizeof(std::uint32_t));
  OPENSSL_cleanse(rb.data(), rb.size() * sizeof(std::uint32_t));
  const CrtJoin join(m.pow2, m.odd);
  MaterialBatch batch;
  batch.wire_id = layer.wire_id;
  batch.n = layer.n;
  batch.k = layer.k;
  batch.p = layer.p;
  batch.digest = layer.digest;
  for (std::uint32_t t = 0; t < rows; ++t) {
    std::vector<std::uint32_t> s(layer.n);
    for (std::uint32_t j = 0; j < layer.n; ++j) {
      const std::size_t i = std::size_t{t} * layer.n + j;
      s[j] = join(positive_mod(ya[i], m.pow2), positive_mod(yb[i], m.odd));
    }
    batch.rows.emplace_back(seeds[t], std::move(s));
    OPENSSL_cleanse(seeds[t].data(), seeds[t].size());
  }
  return batch;
}

PrecomputeResult precompute_online(RemoteChannel& channel, const he::LinearClient& client,
                                   const std::vector<online::OnlineLayerInfo>& layers, OnlineStore& store,
                                   const PrecomputeOptions& options) {
  require(options.batch_rows >= 1 && options.batch_rows <= he::kLinearMaxRows, ErrorCode::invalid_argument,
          "precompute: batch rows " + std::to_string(options.batch_rows) + " outside 1..512");
  const auto start = std::chrono::steady_clock::now();
  const ChannelStats before = channel.stats();
  PrecomputeResult result;
  std::vector<std::size_t> missing(layers.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::size_t want = layers[i].wire_id == kLmHeadWireId ? options.head_rows : options.rows;
    const std::size_t have = store.rows_available(layers[i].digest);
    result.rows_present += std::min(have, want);
    missing[i] = want > have ? want - have : 0;
    total += missing[i];
  }
  // A batch per group in turn; `stop` is asked before each.
  bool stopped = false;
  for (std::uint64_t left = total; left > 0 && !stopped;) {
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (missing[i] == 0) continue;
      stopped = options.stop && options.stop();
      if (stopped) break;
      const auto rows = static_cast<std::uint32_t>(std::min(missing[i], options.batch_rows));
      store.put(make_material(channel, client, layers[i], rows, options.weight_privacy_bits));
      missing[i] -= rows;
      left -= rows;
      result.rows_made += rows;
      result.calls += layers[i].p == he::kOnlineTableModulus ? 1 : 2;
      if (options.progress) options.progress(result.rows_made, total);
    }
  }
  const ChannelStats after = channel.stats();
  result.channel.n_calls = after.n_calls - before.n_calls;
  result.channel.bytes_up = after.bytes_up - before.bytes_up;
  result.channel.bytes_down = after.bytes_down - before.bytes_down;
  result.channel.server_seconds = after.server_seconds - before.server_seconds;
  result.channel.network_seconds = after.network_seconds - before.network_seconds;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fhellm::hybrid
