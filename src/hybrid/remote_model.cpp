#include "hybrid/remote_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/lookup.h"
#include "common/bytes.h"
#include "he/memory_size.h"
#include "hybrid/online_service.h"
#include "model/model.h"

namespace fhellm::hybrid {

namespace {

constexpr std::uint32_t kDescriptionMagic = 0x444D4846;  // "FHMD"
constexpr std::uint32_t kMaxOut = 131072;
constexpr std::uint32_t kMaxIn = 8192;
constexpr std::uint32_t kMaxLayers = 1024;

// Counts a call in flight for its lifetime (threads per call = max / active).
struct InFlight {
  std::atomic<unsigned>& count;
  unsigned active;
  explicit InFlight(std::atomic<unsigned>& c) : count(c), active(++c) {}
  ~InFlight() { --count; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

}  // namespace

Bytes RemoteModelDescription::encode() const {
  Bytes out;
  ByteWriter w(out);
  w.u32(kDescriptionMagic);
  w.u16(kDescriptionVersion);
  w.u16(0);
  w.blob({reinterpret_cast<const std::uint8_t*>(architecture.data()), architecture.size()});
  w.u32(n_layers);
  w.u32(dim);
  w.u32(vocab);
  w.u8(static_cast<std::uint8_t>(quant.weight_bits));
  w.u8(static_cast<std::uint8_t>(quant.activation_bits));
  w.u8(static_cast<std::uint8_t>(weight_privacy_bits));
  w.u8(0);
  w.u32(static_cast<std::uint32_t>(linears.size()));
  for (const RemoteLinearInfo& l : linears) {
    w.u32(l.wire_id);
    w.u32(l.n_out);
    w.u32(l.n_in);
    for (float s : l.scales) w.f32(s);
    for (std::int32_t r : l.row_sums) w.i32(r);
  }
  return out;
}

RemoteModelDescription RemoteModelDescription::decode(ByteView bytes) {
  ByteReader r(bytes, "model description");
  RemoteModelDescription d;
  require(r.u32() == kDescriptionMagic, ErrorCode::bad_magic, "model description: bad magic");
  const std::uint16_t version = r.u16();
  require(version == kDescriptionVersion, ErrorCode::bad_version,
          "model description: version " + std::to_string(version) + ", this build reads " +
              std::to_string(kDescriptionVersion));
  require(r.u16() == 0, ErrorCode::bad_artifact, "model description: reserved field is not 0");
  const auto arch = r.blob(64, "architecture");
  d.architecture.assign(arch.begin(), arch.end());
  d.n_layers = r.u32();
  d.dim = r.u32();
  d.vocab = r.u32();
  require(d.n_layers >= 1 && d.n_layers <= kMaxLayers && d.dim >= 1 && d.dim <= kMaxIn && d.vocab >= 1 &&
              d.vocab <= kMaxOut,
          ErrorCode::bad_artifact,
          "model description: n_layers " + std::to_string(d.n_layers) + ", dim " + std::to_string(d.dim) +
              ", vocab " + std::to_string(d.vocab) + " out of range");
  d.quant.weight_bits = r.u8();
  d.quant.activation_bits = r.u8();
  d.weight_privacy_bits = r.u8();
  require(d.weight_privacy_bits <= he::kLinearMaxPrivacyBits, ErrorCode::bad_artifact,
          "model description: weight privacy of " + std::to_string(d.weight_privacy_bits) + " bits, at most " +
              std::to_string(he::kLinearMaxPrivacyBits));
  require(r.u8() == 0, ErrorCode::bad_artifact, "model description: reserved field is not 0");
  try {
    d.quant.validate();
  } catch (const Error& e) {
    throw Error(ErrorCode::bad_artifact, std::string("model description: ") + e.what());
  }
  const std::uint32_t n = r.count(model::linear_slot_count(d.n_layers), 12, "linears");
  d.linears.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    RemoteLinearInfo& l = d.linears[i];
    l.wire_id = r.u32();
    l.n_out = r.u32();
    l.n_in = r.u32();
    const std::string name = "model description: linear " + std::to_string(l.wire_id);
    try {
      linear_from_wire_id(l.wire_id);
    } catch (const Error& e) {  // an impossible id is a malformed description, not a caller's mistake
      throw Error(ErrorCode::bad_artifact, "model description: " + std::string(e.what()));
    }
    require(l.n_out >= 1 && l.n_out <= kMaxOut && l.n_in >= 1 && l.n_in <= kMaxIn, ErrorCode::bad_artifact,
            name + ": shape " + std::to_string(l.n_out) + " x " + std::to_string(l.n_in) + " out of range");
    r.need(8ull * l.n_out, "scales and row sums");
    l.scales.resize(l.n_out);
    l.row_sums.resize(l.n_out);
    for (float& s : l.scales) {
      s = r.f32();
      if (!(std::isfinite(s) && s > 0)) throw Error(ErrorCode::bad_artifact, name + ": a weight scale is not finite and > 0");
    }
    const std::int64_t max_sum = 127ll * l.n_in;
    for (std::int32_t& s : l.row_sums) {
      s = r.i32();
      if (std::llabs(s) > max_sum) throw Error(ErrorCode::bad_artifact, name + ": a row sum exceeds 127 * n_in");
    }
    for (std::uint32_t j = 0; j < i; ++j)
      require(d.linears[j].wire_id != l.wire_id, ErrorCode::bad_artifact, name + ": listed twice");
  }
  r.expect_end();
  return d;
}

const RemoteLinearInfo& RemoteModelDescription::find(std::uint32_t wire_id) const {
  for (const RemoteLinearInfo& l : linears)
    if (l.wire_id == wire_id) return l;
  throw Error(ErrorCode::unknown_layer, "the server holds no remote layer with wire id " + std::to_string(wire_id) +
                                            " (" + model::linear_name(linear_from_wire_id(wire_id)) + ")");
}

quant::QuantizedWeights RemoteModelDescription::dequantization(std::uint32_t wire_id) const {
  const RemoteLinearInfo& l = find(wire_id);
  quant::QuantizedWeights w;
  w.n_out = l.n_out;
  w.n_in = l.n_in;
  w.bits = quant.weight_bits;
  w.scales = l.scales;
  w.row_sums = l.row_sums;
  return w;
}

RemoteModelDescription describe_remote(const model::Model& model, const std::vector<LinearId>& ids,
                                       const std::vector<const quant::QuantizedWeights*>& weights,
                                       quant::QuantOptions options) {
  require(ids.size() == weights.size(), ErrorCode::internal_error, "describe_remote: ids and weights differ in size");
  RemoteModelDescription d;
  const model::ModelConfig& c = model.config();
  d.architecture = std::string(model::architecture_name(c.arch));
  d.n_layers = static_cast<std::uint32_t>(c.n_layers);
  d.dim = static_cast<std::uint32_t>(c.dim);
  d.vocab = static_cast<std::uint32_t>(c.vocab_size);
  d.quant = options;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const quant::QuantizedWeights& w = *weights[i];
    RemoteLinearInfo l;
    l.wire_id = linear_wire_id(ids[i]);
    l.n_out = static_cast<std::uint32_t>(w.n_out);
    l.n_in = static_cast<std::uint32_t>(w.n_in);
    l.scales = w.scales;
    l.row_sums = w.row_sums;
    d.linears.push_back(std::move(l));
  }
  return d;
}

// ---- server ----------------------------------------------------------------

class RemoteLinearSession final : public RemoteSession {
 public:
  explicit RemoteLinearSession(he::LinearServerKeys k) : keys(std::move(k)), bytes(he::memory_bytes(keys)) {}
  std::uint64_t memory_bytes() const override { return bytes; }
  he::LinearServerKeys keys;
  std::uint64_t bytes;
};

RemoteLinearService::RemoteLinearService(RemoteModelDescription description,
                                         std::vector<std::vector<std::int8_t>> weights,
                                         const RemoteServiceOptions& options)
    : description_(std::move(description)), max_call_threads_(std::max(1u, std::thread::hardware_concurrency())) {
  require(weights.size() == description_.linears.size(), ErrorCode::bad_artifact,
          "remote service: " + std::to_string(weights.size()) + " weight matrices for " +
              std::to_string(description_.linears.size()) + " layers");
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const RemoteLinearInfo& l = description_.linears[i];
    require(weights[i].size() == static_cast<std::size_t>(l.n_out) * l.n_in, ErrorCode::bad_artifact,
            "remote service: layer " + std::to_string(l.wire_id) + " has " + std::to_string(weights[i].size()) +
                " weights, shape says " + std::to_string(static_cast<std::size_t>(l.n_out) * l.n_in));
    weight_count_ += weights[i].size();
  }
  const unsigned threads = options.encode_threads != 0 ? options.encode_threads : max_call_threads_;
  std::vector<OnlineService::Layer> kept;  // serve --online: the int8 weights, moved in once encoded
  std::uint64_t done = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const RemoteLinearInfo& l = description_.linears[i];
    const bool table = model::is_embedding(linear_from_wire_id(l.wire_id).kind);
    bool keep = options.online;
    if (table) {
      // Tables: every precision reads the same exact lookup.
      auto encoded = std::make_unique<he::EncodedTable>(weights[i], l.n_out, l.n_in, kTableValueBits, threads);
      encoded_bytes_ += encoded->encoded_bytes();
      tables_.emplace(l.wire_id, std::move(encoded));
      // Its rows online need the offline product R E mod 2^8, in an
      // encoding of its own; where no layout holds the server's weight
      // privacy, the table stays with the encrypted lookup only (the client
      // falls back to it).
      if (keep) try {
          auto masks = std::make_unique<he::EncodedWeights>(
              he::encode_table_masks(weights[i], l.n_out, l.n_in, options.weight_privacy_bits, threads));
          encoded_bytes_ += masks->encoded_bytes();
          table_masks_.emplace(l.wire_id, std::move(masks));
        } catch (const Error& e) {
          if (e.code() != ErrorCode::bad_parameters) throw;
          keep = false;
        }
    } else {
      auto encoded = std::make_unique<he::EncodedWeights>(weights[i], l.n_out, l.n_in, options.precisions, threads,
                                                          options.weight_privacy_bits);
      encoded_bytes_ += encoded->encoded_bytes();
      weights_.emplace(l.wire_id, std::move(encoded));
    }
    done += weights[i].size();
    // The encodings are all the server keeps, and the int8 weights for the
    // online mode: moved, never copied (a Llama-3.2-1B server holds 1.2 GB
    // of them).
    if (keep)
      kept.push_back(table ? OnlineService::Layer{l.wire_id, l.n_in, l.n_out, std::move(weights[i]), true}
                           : OnlineService::Layer{l.wire_id, l.n_out, l.n_in, std::move(weights[i]), false});
    std::vector<std::int8_t>().swap(weights[i]);
    if (options.progress) options.progress(done, weight_count_);
  }
  if (options.online) online_ = std::make_unique<OnlineService>(std::move(kept));
  description_.weight_privacy_bits = options.weight_privacy_bits;
  description_bytes_ = description_.encode();
}

RemoteLinearService::~RemoteLinearService() = default;

std::uint64_t RemoteLinearService::online_bytes() const noexcept { return online_ ? online_->weight_bytes() : 0; }

const RemoteLinearService::KeyFootprint& RemoteLinearService::footprint(he::ParamId id) {
  std::lock_guard lock(footprint_mutex_);
  auto it = footprints_.find(id);
  if (it != footprints_.end()) return it->second;
  // Keys made here have the plans' widths; sizes do not depend on the secret.
  const Bytes upload = he::LinearClient({id}).server_keys().save();
  const auto sets = he::peek_linear_server_keys(upload);
  KeyFootprint f;
  f.record_bytes = sets.at(0).bytes;
  he::LinearServerKeys keys = he::LinearServerKeys::load(upload);
  keys.keep_packing_for(description_.weight_privacy_bits);
  f.memory_bytes = RemoteLinearSession(std::move(keys)).memory_bytes();
  return footprints_.emplace(id, f).first->second;
}

void RemoteLinearService::prepare_sessions() { (void)footprint(he::kLookupParamId); }

std::uint64_t RemoteLinearService::session_memory_bytes(ByteView evaluation_keys) {
  std::uint64_t total = 0;
  for (const he::LinearKeySetInfo& set : he::peek_linear_server_keys(evaluation_keys)) {
    const KeyFootprint& f = footprint(set.id);
    require(set.bytes == f.record_bytes, ErrorCode::bad_parameters,
            "session keys for " + std::string(he::parameter_set(set.id).name) + " are " + std::to_string(set.bytes) +
                " bytes; keys at the plans' gadget widths are " + std::to_string(f.record_bytes));
    total += f.memory_bytes;
  }
  return total;
}

std::unique_ptr<RemoteSession> RemoteLinearService::open_session(ByteView evaluation_keys) {
  he::LinearServerKeys keys = he::LinearServerKeys::load(evaluation_keys);
  keys.keep_packing_for(description_.weight_privacy_bits);  // the other packing set serves no plan here
  return std::make_unique<RemoteLinearSession>(std::move(keys));
}

CallCost RemoteLinearService::call_cost(std::span<const std::uint32_t> layer_ids, ByteView payload) const {
  require(layer_ids.size() == 1, ErrorCode::bad_message,
          "a linear call names exactly one layer group in this version, got " + std::to_string(layer_ids.size()));
  const online::PayloadKind kind = online::payload_kind(payload);
  if (kind == online::PayloadKind::online_query || kind == online::PayloadKind::online_rows) {
    require(online_ != nullptr, ErrorCode::online_not_served,
            "this server keeps no int8 weights for online calls (start it with `fhellm serve --online`)");
    // Masked rows are linear queries on W like encrypted rows (docs/online.md
    // section 5): they count in the row budgets; the info query is public.
    if (kind == online::PayloadKind::online_query) return CallCost{0};
    return CallCost{online_->call_rows(layer_ids[0], payload)};
  }
  if (auto table = tables_.find(layer_ids[0]); table != tables_.end()) {
    const he::EncodedTable& t = *table->second;
    if (kind == online::PayloadKind::encrypted_rows) return table_mask_cost(layer_ids[0], t, payload);
    const he::LookupMessageInfo info = he::peek_lookup_upload(payload);  // no planning
    require(info.shape.table_rows == t.rows() && info.shape.width == t.width(), ErrorCode::shape_mismatch,
            "table " + std::to_string(layer_ids[0]) + " is " + std::to_string(t.rows()) + " x " +
                std::to_string(t.width()) + ", the upload is for " + std::to_string(info.shape.table_rows) + " x " +
                std::to_string(info.shape.width));
    return CallCost{info.shape.rows};  // ids: each reads one row of the table
  }
  auto it = weights_.find(layer_ids[0]);
  require(it != weights_.end(), ErrorCode::unknown_layer,
          "this server holds no remote layer with wire id " + std::to_string(layer_ids[0]));
  const he::EncodedWeights& w = *it->second;
  const he::LinearMessageInfo info = he::peek_linear_upload(payload);  // no planning
  require(info.shape.in == w.in() && info.shape.out == w.out(), ErrorCode::shape_mismatch,
          "layer " + std::to_string(layer_ids[0]) + " is " + std::to_string(w.out()) + " x " +
              std::to_string(w.in()) + ", the upload is for " + std::to_string(info.shape.out) + " x " +
              std::to_string(info.shape.in));
  require(info.privacy_bits == w.privacy_bits(), ErrorCode::precision_not_served,
          "this server serves weight privacy " + std::to_string(w.privacy_bits()) + " bits, the upload is planned for " +
              std::to_string(info.privacy_bits));
  return CallCost{info.shape.rows};
}

CallCost RemoteLinearService::table_mask_cost(std::uint32_t wire_id, const he::EncodedTable& t, ByteView payload) const {
  const he::LinearMessageInfo info = he::peek_linear_upload(payload);  // no planning
  require(info.precision == he::LinearPrecision::mask_table, ErrorCode::precision_not_served,
          "table " + std::to_string(wire_id) + " takes lookups and mask-table rows, the upload is a " +
              std::string(he::linear_precision_name(info.precision)) + " product");
  auto masks = table_masks_.find(wire_id);
  require(masks != table_masks_.end(), ErrorCode::online_not_served,
          "this server holds no encoding for offline table rows of table " + std::to_string(wire_id) +
              " (start it with `fhellm serve --online`)");
  require(info.shape.in == t.rows() && info.shape.out == t.width(), ErrorCode::shape_mismatch,
          "table " + std::to_string(wire_id) + " is " + std::to_string(t.rows()) + " x " + std::to_string(t.width()) +
              ", the mask rows are for " + std::to_string(info.shape.in) + " x " + std::to_string(info.shape.out));
  require(info.privacy_bits == masks->second->privacy_bits(), ErrorCode::precision_not_served,
          "this server serves weight privacy " + std::to_string(masks->second->privacy_bits()) +
              " bits, the upload is planned for " + std::to_string(info.privacy_bits));
  return CallCost{info.shape.rows};  // a row R E: one linear query of the table (docs/online.md section 5)
}

Bytes RemoteLinearService::call(RemoteSession& session, std::span<const std::uint32_t> layer_ids, ByteView payload) {
  call_cost(layer_ids, payload);  // the shape against the layer or table, before planning
  const online::PayloadKind kind = online::payload_kind(payload);
  if (kind == online::PayloadKind::online_query) return online_->info(payload);
  if (kind == online::PayloadKind::online_rows) {
    const InFlight call(calls_in_flight_);
    return online_->call(layer_ids[0], payload, std::max(1u, max_call_threads_ / call.active));
  }
  auto& s = dynamic_cast<RemoteLinearSession&>(session);
  const InFlight call(calls_in_flight_);
  const unsigned threads = std::max(1u, max_call_threads_ / call.active);
  if (auto table = tables_.find(layer_ids[0]); table != tables_.end()) {
    if (kind == online::PayloadKind::encrypted_rows)
      return he::linear_evaluate(payload, *table_masks_.at(layer_ids[0]), s.keys, threads);
    return he::lookup_evaluate(payload, *table->second, s.keys, threads);
  }
  return he::linear_evaluate(payload, *weights_.at(layer_ids[0]), s.keys, threads);
}

}  // namespace fhellm::hybrid
