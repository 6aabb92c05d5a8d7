// fhe=execute: the remote linear layers run encrypted on a server, and the
// remote tables are looked up there under encryption (docs/embedding.md).
//
// Per call, exactly the integers of `simulate` (simulate_backend.h):
//   1. quantize the rows (quant::quantize_rows, same bits, same zero points);
//   2. encrypt them (he::LinearClient), send them through a RemoteChannel,
//      the server multiplies by its int8 weights under encryption;
//   3. decrypt the int64 product, then quant::dequantize_product with the
//      weight scales and row sums of the server's description and the
//      client's own bias.
// With LinearPrecision::exact the decrypted product equals simulate's
// bit for bit, so the generated tokens are identical; `standard` drops the
// bits below the documented noise floor (docs/linear.md).
//
// The session opens in the constructor: the client makes fresh keys, uploads
// the public evaluation keys once and checks the server's description
// against its own model (architecture, shapes).
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "he/linear_layout.h"
#include "hybrid/linear_backend.h"
#include "hybrid/remote_model.h"
#include "hybrid/remote_service.h"
#include "model/model.h"

namespace fhellm::he {
class LinearClient;
}

namespace fhellm::hybrid {

class HybridModel;

struct ExecuteOptions {
  // Set by use_execute from the HybridModel (precision(), quantization()).
  he::LinearPrecision precision = he::kLinearDefaultPrecision;
  int activation_bits = 8;  // must equal the simulate backend's
};

// Figures of one execute session, updated after every call (the summary line).
struct ExecuteStats {
  ChannelStats channel;           // traffic, server and network time of linear calls
  double client_seconds = 0;      // quantize + encrypt + decrypt + dequantize
  double open_seconds = 0;        // key generation + key upload + description
  std::uint64_t key_upload_bytes = 0;  // the open_session request
  std::uint64_t n_sessions_opened = 0;
  std::uint64_t n_calls = 0, n_rows = 0;
};

class ExecuteBackend final : public LinearBackend {
 public:
  // Opens the session on `channel`. `model` must outlive the backend.
  // The session (evaluation keys up, the server's description down) opens at
  // the first apply(), so a generation that makes no remote call sends nothing.
  ExecuteBackend(const model::Model& model, std::unique_ptr<RemoteChannel> channel, ExecuteOptions options,
                 std::shared_ptr<ExecuteStats> stats = nullptr);
  ~ExecuteBackend() override;

  FheMode mode() const override { return FheMode::execute; }
  void prepare() override;  // opens the session
  // @throws Error(bad_artifact) when the server's model does not match
  //         `model` (first call), Error(unknown_layer) when the server holds no
  //         such group, or the channel's / decryption's errors (server_unavailable, ...).
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override;
  // The encrypted lookup of rows `ids` of a remote table (he/lookup.h): one
  // call per 512 ids (a prompt's ids in one query), the rows dequantized
  // with the table's per-row scales from the server's description.
  // @throws as apply.
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override;

  // The server's description; empty until the first remote call opened the session.
  const RemoteModelDescription& description() const { return description_; }
  const ExecuteStats& execute_stats() const { return *stats_; }

 private:
  struct Layer;
  const Layer& layer(LinearId id);
  void open_session();

  const model::Model& model_;
  std::unique_ptr<RemoteChannel> channel_;
  ExecuteOptions options_;
  std::shared_ptr<ExecuteStats> stats_;
  std::unique_ptr<he::LinearClient> client_;
  RemoteModelDescription description_;
  std::map<std::uint32_t, std::unique_ptr<Layer>> layers_;
  quant::QuantizedRows rows_;
};

// The client side of one execute call, without a model: quantize the rows,
// encrypt them (at most he::kLinearMaxRows per exchange), `channel`'s call of
// `wire_id`, decrypt, dequantize with `dequant`'s scales and row sums (the
// server's description), add `bias` (may be null). ExecuteBackend runs it
// for a model's groups, fhellm::RemoteLayers for any model's layers.
// @throws Error(shape_mismatch) for a reply of another shape, the channel's
//         and decryption's errors
void execute_product(const he::LinearClient& client, RemoteChannel& channel, std::uint32_t wire_id,
                     const quant::QuantizedWeights& dequant, const float* bias, const float* x, std::size_t rows,
                     const ExecuteOptions& options, int weight_privacy_bits, quant::QuantizedRows& scratch,
                     float* y);

// @throws Error(bad_artifact) when the server's description is not of `model`
// (architecture, layers, dim, vocabulary).
void check_description(const RemoteModelDescription& d, const model::Model& model);
// @throws Error(bad_artifact) when the server's group `info` has not the shape of `id` in `model`.
void check_layer_shape(const RemoteLinearInfo& info, const model::Model& model, LinearId id);

// The service a server would run for `hm`'s remote modules and quantization
// (the weights simulate uses): the in-process server.
std::shared_ptr<RemoteLinearService> make_remote_service(HybridModel& hm, const RemoteServiceOptions& options = {});
// Same, releasing `hm` (its float weights and int8 cache) before the
// encodings: a server's peak memory is the int8 weights and their encodings.
std::shared_ptr<RemoteLinearService> make_remote_service(HybridModel&& hm, const RemoteServiceOptions& options = {});

// Registers the execute mode on `hm`: each time the backend is built, a new
// channel from `make_channel` and a new session. `stats` (may be null)
// receives the figures.
void use_execute(HybridModel& hm, std::function<std::unique_ptr<RemoteChannel>(HybridModel&)> make_channel,
                 ExecuteOptions options = {}, std::shared_ptr<ExecuteStats> stats = nullptr);
// Same, with the server in this process (make_remote_service).
void use_execute_in_process(HybridModel& hm, ExecuteOptions options = {},
                            std::shared_ptr<ExecuteStats> stats = nullptr);

}  // namespace fhellm::hybrid
