// The remote half of a hybrid model: the server's int8 weights of the remote
// linear groups and tables (RemoteLinearService, a RemoteService), and the
// public description it sends every client on open (RemoteModelDescription).
//
// Description layout (little-endian), the open_session reply's blob:
//   0   4  magic "FHMD"      4  2  version (1)     6  2  reserved (0)
//   8   4  arch_len (<= 64), arch bytes ("llama", "gpt2")
//   ..  4  n_layers  4 dim  4 vocab               (checked against the client's model)
//   ..  1  weight_bits (2..8)  1 activation_bits (2..8)
//   ..  1  weight privacy bits (0..he::kLinearMaxPrivacyBits: the plans of every product)  1 reserved (0)
//   ..  4  n_linears (<= 4 * n_layers + 3: the linear groups and the tables)
//   per linear: 4 wire_id (hybrid::linear_wire_id), 4 n_out (1..131072), 4 n_in (1..8192),
//               n_out x f32 scales (finite, > 0), n_out x i32 row sums (|.| <= 127 n_in)
//               (a table: n_out rows of n_in values, one scale per row)
// No weight value is in the description: only what the client needs to
// dequantize (scales, row sums), which the client artifact also carries.
#pragma once

#include <cstdint>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "he/linear_layout.h"
#include "hybrid/linear_backend.h"
#include "hybrid/remote_service.h"
#include "quant/quantize.h"

namespace fhellm::he {
class EncodedWeights;
class EncodedTable;
}

namespace fhellm::hybrid {

inline constexpr std::uint16_t kDescriptionVersion = 1;

// The encrypted lookup reads a table as 8-bit values whatever the weight
// bits (a 4-bit table is int8 values of |v| <= 7): one plan, one traffic,
// as for the products (every weight is held in 8 bits).
inline constexpr int kTableValueBits = 8;

// Dequantization metadata of one remote group.
struct RemoteLinearInfo {
  std::uint32_t wire_id = 0;
  std::uint32_t n_out = 0, n_in = 0;
  std::vector<float> scales;          // [n_out]
  std::vector<std::int32_t> row_sums;  // [n_out]
};

struct RemoteModelDescription {
  std::string architecture;
  std::uint32_t n_layers = 0, dim = 0, vocab = 0;
  quant::QuantOptions quant;
  // The server's weight privacy (he::plan_linear): a client's uploads must
  // be planned with it.
  int weight_privacy_bits = 0;
  std::vector<RemoteLinearInfo> linears;

  Bytes encode() const;
  // @throws Error(bad_magic | bad_version | truncated | length_too_large |
  //               trailing_bytes | bad_artifact) for any field out of range.
  static RemoteModelDescription decode(ByteView bytes);
  // @throws Error(unknown_layer) when the server has no such group.
  const RemoteLinearInfo& find(std::uint32_t wire_id) const;
  // A QuantizedWeights with scales and row sums only (values empty), what
  // quant::dequantize_product reads.
  quant::QuantizedWeights dequantization(std::uint32_t wire_id) const;
};

// Builds the description of `ids` from their quantized weights.
RemoteModelDescription describe_remote(const model::Model& model, const std::vector<LinearId>& ids,
                                       const std::vector<const quant::QuantizedWeights*>& weights,
                                       quant::QuantOptions options);

// Per-session state: the client's public evaluation keys, parsed.
class RemoteLinearSession;
class OnlineService;

// How a server holds its weights.
struct RemoteServiceOptions {
  // Precisions the weights are encoded for, at construction (each costs its
  // own encoding: docs/linear.md); a call at another precision gets
  // Error(precision_not_served).
  std::vector<he::LinearPrecision> precisions{he::kLinearDefaultPrecision};
  // Weight privacy of every reply (he::plan_linear; docs/linear.md section
  // 6): the weights are encoded in its layouts and a call planned with other
  // bits gets Error(precision_not_served).
  int weight_privacy_bits = 0;
  // Keep the int8 weights for the online mode (docs/online.md): one byte per
  // weight on top of the encodings, and each table's encoding for its
  // offline rows (section 10: 7 bytes per value); without them online calls
  // get Error(online_not_served).
  bool online = false;
  unsigned encode_threads = 0;  // 0: the hardware's thread count
  // Called on the constructing thread after each layer: (weights encoded, weights in all).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

// The server's service: the int8 weights encoded once, at construction, in
// each layer's resident layout (he::EncodedWeights) and the tables for the
// encrypted lookup (he::EncodedTable), shared read-only by all sessions and
// row counts; the int8 values are kept only for the online mode
// (options.online, an OnlineService). A call names exactly one wire id; its
// payload is an he::LinearClient upload (a product or a lookup, by the id's
// kind; reply: an encrypted result) or an online payload (online_wire.h: the
// info query, masked rows).
class RemoteLinearService final : public RemoteService {
 public:
  // `weights[i]` holds the int8 values of `description.linears[i]`.
  // @throws Error(bad_artifact) when shapes disagree.
  RemoteLinearService(RemoteModelDescription description, std::vector<std::vector<std::int8_t>> weights,
                      const RemoteServiceOptions& options = {});
  ~RemoteLinearService() override;

  Bytes description() const override { return description_bytes_; }
  const RemoteModelDescription& model_description() const { return description_; }
  // Each parameter set's record must have exactly the size of keys at the
  // plans' gadget widths; the memory is what such keys hold once parsed
  // (he::memory_bytes), both learnt once per set from keys made here.
  // @throws Error(bad_parameters) for a record of another size, and
  //         he::peek_linear_server_keys's codes.
  std::uint64_t session_memory_bytes(ByteView evaluation_keys) override;
  // Learns the footprint of the parameter set every session carries (the
  // lookup's, which the default plans share) before the first session needs
  // it: keys made, saved and parsed here, ~80 ms that the first client's
  // session would otherwise wait for. `fhellm serve` calls it before listening.
  void prepare_sessions();
  // Online payloads: Error(online_not_served) without the int8 weights; masked
  // rows cost their row count (OnlineService::call_rows), the info query none.
  // @throws Error(bad_message) for other than one layer id, Error(unknown_layer),
  //         Error(shape_mismatch), Error(precision_not_served) for other
  //         weight privacy bits, he::peek_linear_upload's,
  //         he::peek_lookup_upload's or online::peek_online_rows's codes.
  CallCost call_cost(std::span<const std::uint32_t> layer_ids, ByteView payload) const override;
  // @throws Error (he::LinearServerKeys::load's codes).
  std::unique_ptr<RemoteSession> open_session(ByteView evaluation_keys) override;
  // @throws call_cost's codes, he::linear_evaluate's, he::lookup_evaluate's
  //         or OnlineService's.
  Bytes call(RemoteSession& session, std::span<const std::uint32_t> layer_ids, ByteView payload) override;

  // Bytes of the encoded weights of every layer (the server's largest memory).
  std::uint64_t encoded_bytes() const noexcept { return encoded_bytes_; }
  // Bytes of the int8 weights kept for the online mode (0 without it).
  std::uint64_t online_bytes() const noexcept;
  std::uint64_t weight_count() const noexcept { return weight_count_; }

  // Threads of one call: max_threads / (calls in flight), at least 1, so one
  // client's token gets every core and many clients share them. Default:
  // the hardware's thread count.
  void set_max_call_threads(unsigned threads) noexcept { max_call_threads_ = threads == 0 ? 1 : threads; }

 private:
  RemoteModelDescription description_;
  Bytes description_bytes_;
  std::map<std::uint32_t, std::unique_ptr<he::EncodedWeights>> weights_;
  std::map<std::uint32_t, std::unique_ptr<he::EncodedTable>> tables_;
  // Online servers: each table's encoding for the offline table rows (mask_table calls).
  std::map<std::uint32_t, std::unique_ptr<he::EncodedWeights>> table_masks_;
  std::unique_ptr<OnlineService> online_;
  std::uint64_t encoded_bytes_ = 0, weight_count_ = 0;
  // The cost of offline table rows (a mask_table upload) for table `wire_id`.
  CallCost table_mask_cost(std::uint32_t wire_id, const he::EncodedTable& t, ByteView payload) const;
  // Per parameter set: the upload record's size and the parsed keys' memory.
  struct KeyFootprint {
    std::size_t record_bytes = 0;
    std::uint64_t memory_bytes = 0;
  };
  const KeyFootprint& footprint(he::ParamId id);
  std::mutex footprint_mutex_;
  std::map<he::ParamId, KeyFootprint> footprints_;
  unsigned max_call_threads_;
  std::atomic<unsigned> calls_in_flight_{0};
};

}  // namespace fhellm::hybrid
