// fhe=execute, online (docs/online.md): the remote linear layers as clear
// products on masked rows, with the encrypted work done ahead of time.
//
// Per call, exactly the integers of `simulate` at exact precision:
//   1. quantize the rows (as execute does);
//   2. per row, take one stored MaskRow of the group (never used before),
//      send V = X - R mod p (an online linear call), get V W^T mod p;
//   3. add S = R W^T mod p, centre: X W^T exactly; dequantize as execute.
// Rows for which the store has no material go through `fallback` (the
// encrypted path, at the session's precision), counted in the stats.
//
// The online session opens at the first call with no evaluation keys (the
// online calls need none), checks the server's description against the
// model and reads the layers' online info (their moduli and weights
// digests); the fallback, with its own session and keys, is built only if a
// row needs it. Rows taken from the store and not used go back to it when
// the backend is destroyed.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "hybrid/execute_backend.h"
#include "hybrid/online_store.h"
#include "hybrid/online_wire.h"
#include "quant/quantize.h"

namespace fhellm::hybrid {

// Figures of one online session (the summary line, --json).
struct OnlineStats {
  ExecuteStats session;            // the online session: its channel (online calls), open time, client time
  std::uint64_t online_rows = 0;   // rows that went through the online path
  std::uint64_t fallback_rows = 0;  // rows that lacked material and went encrypted
};

// The online info of every layer, from the server (the FHOQ query naming
// `any_wire_id`). @throws Error(online_not_served) and the channel's errors.
std::vector<online::OnlineLayerInfo> query_online_info(RemoteChannel& channel, std::uint32_t any_wire_id);

class OnlineBackend final : public LinearBackend {
 public:
  using FallbackFactory = std::function<std::unique_ptr<LinearBackend>()>;
  // `model` must outlive the backend. `store` may be shared with others.
  OnlineBackend(const model::Model& model, std::unique_ptr<RemoteChannel> channel, std::shared_ptr<OnlineStore> store,
                FallbackFactory fallback, int activation_bits, std::shared_ptr<OnlineStats> stats = nullptr);
  ~OnlineBackend() override;  // puts unused rows back in the store (best effort), closes the session

  FheMode mode() const override { return FheMode::execute; }
  // Opens the online session (the fallback's encrypted one opens when a row
  // lacks material). @throws as apply.
  void prepare() override;
  // @throws Error(bad_artifact) when the server's model differs, Error(online_not_served),
  //         the store's errors (material_corrupt, mask_reused), the channel's, the fallback's.
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override;
  // A remote table's rows (docs/online.md section 10): per id a stored row
  // (R, R E mod 2^8), the server's V E mod 2^8 for V = onehot(id) - R; ids
  // without material, and tables the server keeps no online encoding for, go
  // through the fallback's encrypted lookup (its session and keys open then).
  // @throws as apply.
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override;

  const OnlineStats& online_stats() const { return *stats_; }
  // Rows of `id`'s group left in this backend and the store for the server's weights
  // (opens the session when needed).
  std::size_t rows_available(LinearId id);

 private:
  struct Layer;
  Layer& layer(LinearId id);
  void open_session();
  // Fills the pools of every group to `rows` rows (the LM head to 1) where
  // the store has them, one journal write per round of batches.
  void prefetch(std::size_t rows);
  std::vector<MaskRow> take_rows(Layer& l, std::size_t count);
  void run_online(Layer& l, const quant::QuantizedRows& q, std::vector<MaskRow>& masks, float* y);
  void run_online_lookup(Layer& l, std::span<const TokenId> ids, std::vector<MaskRow>& masks, float* out);
  // The stats of one apply or lookup of `rows` rows that began at `start`.
  void account(std::chrono::steady_clock::time_point start, double fallback_seconds, std::size_t rows);
  void return_rows() noexcept;

  const model::Model& model_;
  std::unique_ptr<RemoteChannel> channel_;
  std::shared_ptr<OnlineStore> store_;
  FallbackFactory make_fallback_;
  std::unique_ptr<LinearBackend> fallback_;
  int activation_bits_;
  std::shared_ptr<OnlineStats> stats_;
  bool open_ = false;
  RemoteModelDescription description_;
  std::map<std::uint32_t, online::OnlineLayerInfo> info_;
  std::map<std::uint32_t, std::unique_ptr<Layer>> layers_;
  std::map<std::uint32_t, std::deque<MaskRow>> pools_;  // per wire id: taken from the store, not used yet
  bool prefetched_ = false;
  quant::QuantizedRows rows_;
};

}  // namespace fhellm::hybrid
