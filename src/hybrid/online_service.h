// The server's half of the online mode (docs/online.md): the remote groups'
// int8 weights, kept in clear when the server is asked to (`serve --online`),
// their digests, and the answers to the online payloads of linear calls:
// the info query (FHOQ -> FHOI) and masked rows (FHOU -> FHOR, V W^T mod p
// by math::modular_matmul; a table's V E mod 2^8 by math::masked_table_sum). Stateless per session: the online mode keeps
// nothing about a client on the server. Thread-safe (read-only after
// construction).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/bytes.h"
#include "hybrid/online_wire.h"

namespace fhellm::hybrid {

class OnlineService {
 public:
  struct Layer {
    std::uint32_t wire_id = 0, n = 0, k = 0;
    std::vector<std::int8_t> weights;  // n x k, row-major; a table's E: k x n (V rows of width n)
    bool table = false;                // a token or position table (docs/online.md section 10)
  };
  // Takes the weights; computes each layer's digest. Layers whose int8
  // values are the same array (a tied LM head and its token table: n x k
  // and k x n with the same row-major bytes) share one copy.
  // @throws Error(bad_artifact) for a size that does not match its shape.
  explicit OnlineService(std::vector<Layer> layers);

  // FHOQ: the online info of every layer (wire id, shape, p, digest).
  // @throws online_wire's decode codes.
  Bytes info(ByteView query) const;
  // FHOU for layer `wire_id`, on `threads` threads.
  // @throws Error(unknown_layer), Error(shape_mismatch) for another shape,
  //         Error(stale_material) for another digest, online_wire's decode codes.
  Bytes call(std::uint32_t wire_id, ByteView rows, unsigned threads) const;
  // The rows of a FHOU payload for layer `wire_id`, from its header and
  // length only (a server counts them in the per-key row budgets before any
  // work): the checks of call() but the values'.
  // @throws Error(unknown_layer), Error(shape_mismatch), Error(stale_material),
  //         online::peek_online_rows's codes.
  std::uint64_t call_rows(std::uint32_t wire_id, ByteView rows) const;

  // Bytes of int8 weights held (each shared array once).
  std::uint64_t weight_bytes() const noexcept { return weight_bytes_; }

 private:
  struct Held {
    Layer layer;  // its shape; the values are in `weights`
    std::shared_ptr<const std::vector<std::int8_t>> weights;
    online::WeightsDigest digest;
    std::uint64_t p = 0;
  };
  const Held& layer(std::uint32_t wire_id) const;  // @throws Error(unknown_layer)
  // @throws Error(shape_mismatch), Error(stale_material).
  static void check(std::uint32_t wire_id, const Held& h, const online::OnlineRows& rows);
  static Bytes table_call(const Held& h, const online::OnlineRows& rows, unsigned threads);
  std::map<std::uint32_t, Held> layers_;
  std::uint64_t weight_bytes_ = 0;
};

}  // namespace fhellm::hybrid
