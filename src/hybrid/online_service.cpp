#include "hybrid/online_service.h"

#include <algorithm>
#include <string>

#include "common/thread_pool.h"
#include "fhellm/error.h"
#include "he/linear_layout.h"
#include "math/masked_table_sum.h"
#include "math/modular_matmul.h"

namespace fhellm::hybrid {

OnlineService::OnlineService(std::vector<Layer> layers) {
  for (Layer& l : layers) {
    require(l.weights.size() == std::size_t{l.n} * l.k, ErrorCode::bad_artifact,
            "online service: layer " + std::to_string(l.wire_id) + " has " + std::to_string(l.weights.size()) +
                " weights for " + std::to_string(l.n) + " x " + std::to_string(l.k));
    // The online modulus assumes symmetric weights (he::kOnlineMaxAbsWeight).
    const bool symmetric = std::all_of(l.weights.begin(), l.weights.end(), [](std::int8_t w) {
      return w >= -static_cast<int>(he::kOnlineMaxAbsWeight);
    });
    if (!symmetric)
      throw Error(ErrorCode::bad_artifact, "online service: layer " + std::to_string(l.wire_id) +
                                               " holds a weight of -128 (the online mode needs symmetric int8 weights)");
    Held h;
    h.digest = online::weights_digest(l.wire_id, l.n, l.k, l.weights, l.table);
    h.p = online::online_modulus(l.table, l.k);
    for (const auto& [other_id, other] : layers_)
      if (*other.weights == l.weights) {
        h.weights = other.weights;
        break;
      }
    if (!h.weights) {
      weight_bytes_ += l.weights.size();
      h.weights = std::make_shared<const std::vector<std::int8_t>>(std::move(l.weights));
    }
    std::vector<std::int8_t>().swap(l.weights);
    const std::uint32_t id = l.wire_id;
    h.layer = std::move(l);
    layers_.emplace(id, std::move(h));
  }
}

Bytes OnlineService::info(ByteView query) const {
  online::decode_online_query(query);
  std::vector<online::OnlineLayerInfo> out;
  for (const auto& [id, h] : layers_) out.push_back({id, h.layer.n, h.layer.k, h.p, h.digest});
  return online::encode_online_info(out);
}

const OnlineService::Held& OnlineService::layer(std::uint32_t wire_id) const {
  auto it = layers_.find(wire_id);
  require(it != layers_.end(), ErrorCode::unknown_layer,
          "this server holds no online weights for wire id " + std::to_string(wire_id));
  return it->second;
}

void OnlineService::check(std::uint32_t wire_id, const Held& h, const online::OnlineRows& rows) {
  require(rows.k == h.layer.k && rows.n == h.layer.n && rows.p == h.p, ErrorCode::shape_mismatch,
          "layer " + std::to_string(wire_id) + " is " + std::to_string(h.layer.n) + " x " + std::to_string(h.layer.k) +
              ", the online rows are for " + std::to_string(rows.n) + " x " + std::to_string(rows.k));
  require(rows.digest == h.digest, ErrorCode::stale_material,
          "layer " + std::to_string(wire_id) + ": the online rows were masked for other weights than this server's");
}

std::uint64_t OnlineService::call_rows(std::uint32_t wire_id, ByteView payload) const {
  const Held& h = layer(wire_id);
  const online::OnlineRows head = online::peek_online_rows(payload);
  check(wire_id, h, head);
  return head.rows;
}

// V E mod 2^8: one contiguous range of columns per thread (the kernel sweeps
// its range four table rows at a time; 256-column pieces ran 2.5-3.7x slower).
Bytes OnlineService::table_call(const Held& h, const online::OnlineRows& rows, unsigned threads) {
  const std::uint8_t* v = rows.bytes.data();
  std::vector<std::uint8_t> y(std::size_t{rows.rows} * rows.n);
  // Ranges of whole 64-column lines, one per thread.
  const std::size_t parts = std::clamp<std::size_t>(std::max(1u, threads), 1, (rows.n + 63) / 64);
  const std::size_t step = (rows.n / parts + 63) / 64 * 64;
  default_thread_pool().run(parts, parts, [&](std::size_t c) {
    const std::size_t begin = std::min<std::size_t>(rows.n, c * step);
    const std::size_t end = c + 1 == parts ? rows.n : std::min<std::size_t>(rows.n, begin + step);
    math::masked_table_sum_range(v, rows.rows, h.weights->data(), rows.k, rows.n, begin, end, y.data());
  });
  return online::encode_online_result(rows.rows, rows.n, rows.p, std::vector<std::uint32_t>(y.begin(), y.end()));
}

Bytes OnlineService::call(std::uint32_t wire_id, ByteView payload, unsigned threads) const {
  const Held& h = layer(wire_id);
  const online::OnlineRows rows = online::decode_online_rows(payload);
  check(wire_id, h, rows);
  if (h.layer.table) return table_call(h, rows, threads);
  std::vector<std::uint32_t> y(std::size_t{rows.rows} * rows.n);
  // Threads split the outputs in chunks that keep each one's weights streaming.
  const std::size_t chunk = 256, chunks = (rows.n + chunk - 1) / chunk;
  const math::ModularRows operand(rows.values.data(), rows.rows, rows.k, rows.p);
  default_thread_pool().run(chunks, std::max(1u, threads), [&](std::size_t c) {
    const std::size_t begin = c * chunk, end = std::min<std::size_t>(rows.n, begin + chunk);
    math::modular_matmul_range(operand, h.weights->data(), rows.n, begin, end, y.data());
  });
  return online::encode_online_result(rows.rows, rows.n, rows.p, y);
}

}  // namespace fhellm::hybrid
