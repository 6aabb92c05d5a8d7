// fhellm::RemoteLayers: the remote linear layers of a model that fhellm's
// engine does not run itself (any PyTorch model, through the Python package's
// fhellm.torch.HybridModel, docs/python.md). The caller keeps its model and
// runs everything else; fhellm holds each remote layer's weights quantized as
// the engine quantizes them and computes y = x W^T + b:
//   simulate: the integers of execute, in clear: the rows quantized per row
//             (8 bits, zero point), the exact integer product with the int8
//             per-output-channel weights, the encrypted product's rounding
//             error modelled at precision "default" (none at "exact"),
//             dequantization, bias;
//   execute:  the same integers computed under encryption by a server: one in
//             this process over these weights, or `fhellm serve --artifact`
//             of the file save_server_artifact wrote.
//
//   fhellm::RemoteLayers layers;                       // 8-bit weights, precision "default"
//   layers.add("layers.0.qkv", w.data(), 384, 128);    // W [n_out, n_in], row-major
//   layers.simulate("layers.0.qkv", x.data(), rows, bias.data(), y.data());
//   layers.connect();                                  // a server in this process
//   layers.execute("layers.0.qkv", x.data(), rows, bias.data(), y.data());
//
// Layers are named as the engine names its groups: "layers.N.qkv",
// "layers.N.attn_out", "layers.N.mlp_up", "layers.N.mlp_down" (N < 1024) and
// "lm_head". A layer named as the engine names the same layer of a model it
// runs draws the same simulated error and sits at the same place in a server
// artifact, so such a model gives the engine's numbers and its artifact
// serves the engine's client (RemoteLayersOptions::architecture...).
//
// Errors: fhellm::Error (error.h). Not thread-safe: one call at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm {

struct RemoteLayersOptions {
  int weight_bits = 8;      // 2..8: symmetric, one scale per output channel
  int activation_bits = 8;  // 2..8: unsigned, one scale and zero point per row
  // The encrypted product's precision: what execute asks the server for and
  // what simulate models ("default" or "exact").
  std::string precision = "default";
  // The model the server's description names, which an engine client checks
  // against its own model (architecture, layers, dim, vocab). A model the
  // engine does not run keeps "custom"; 0 for n_layers: as many as the
  // layers' names need; 0 for dim or vocab: 1.
  std::string architecture = "custom";
  std::uint32_t n_layers = 0, dim = 0, vocab = 0;
};

// One layer as it is held: its shape, and what quantization made of W.
struct RemoteLayerInfo {
  std::string name;
  std::size_t n_out = 0, n_in = 0;
  std::vector<std::int8_t> values;     // [n_out, n_in]: what the server multiplies by
  std::vector<float> scales;           // [n_out]: W[i, :] ~ scales[i] * values[i, :]
  std::vector<std::int32_t> row_sums;  // [n_out]
};

// Figures since construction or reset_stats(). Times in milliseconds.
struct RemoteLayersStats {
  std::uint64_t simulate_calls = 0, execute_calls = 0;
  std::uint64_t rows = 0;     // rows through both
  double simulate_ms = 0;     // inside simulate()
  double execute_ms = 0;      // inside execute()
  // execute only:
  double server_ms = 0;       // the server's encrypted products
  double network_ms = 0;      // round trips minus server time
  double client_ms = 0;       // quantize, encrypt, decrypt, dequantize
  std::uint64_t bytes_up = 0, bytes_down = 0;  // linear calls
  std::uint64_t key_bytes = 0;  // the evaluation keys of the open session
  double session_open_ms = 0;   // key generation, upload, description
};

class RemoteLayers {
 public:
  // @throws Error(bad_quantization) for bits outside 2..8,
  //         Error(invalid_argument) for another precision or architecture
  //         longer than 64 bytes
  explicit RemoteLayers(const RemoteLayersOptions& options = {});
  ~RemoteLayers();  // disconnect()
  RemoteLayers(RemoteLayers&&) noexcept;
  RemoteLayers& operator=(RemoteLayers&&) noexcept;

  // Quantizes W [n_out, n_in] (row-major) and holds it as `name`. Only
  // before connect().
  // @throws Error(invalid_argument) for a name that is not a group name or is
  //         held already, or while connected; Error(shape_mismatch) for
  //         n_out outside 1..131072 or n_in outside 1..8192;
  //         Error(bad_quantization) for a non-finite weight
  void add(const std::string& name, const float* weight, std::size_t n_out, std::size_t n_in);
  std::vector<std::string> names() const;  // in the order added
  // @throws Error(unknown_layer)
  const RemoteLayerInfo& info(const std::string& name) const;

  // y [rows, n_out] from x [rows, n_in] in clear, with the integers of
  // execute. `bias` [n_out] may be null.
  // @throws Error(unknown_layer), Error(bad_quantization) for a non-finite input
  void simulate(const std::string& name, const float* x, std::size_t rows, const float* bias, float* y);

  // Opens the execute session: fresh keys, the evaluation keys uploaded, the
  // server's description checked. server_url empty: a server in this process
  // over these layers (encoded now for the precision); else
  // http(s)://HOST:PORT, which must serve exactly these layers (the artifact
  // save_server_artifact wrote from the same weights and options).
  // @throws Error(invalid_argument) with no layer or a malformed URL,
  //         Error(bad_artifact) when the server holds other layers,
  //         Error(server_unavailable) and the server's errors
  void connect(const std::string& server_url = "", double timeout_seconds = 120);
  bool connected() const noexcept;
  // Closes the session (best effort; never throws).
  void disconnect() noexcept;
  // The same y as simulate (exactly, at precision "exact"), computed by the
  // server under encryption.
  // @throws Error(invalid_argument) when not connected, Error(unknown_layer),
  //         the channel's and decryption's errors
  void execute(const std::string& name, const float* x, std::size_t rows, const float* bias, float* y);

  // Writes the server artifact of these layers (what `fhellm serve
  // --artifact` serves); returns its size in bytes.
  // @throws Error(invalid_argument) with no layer, Error(io_error)
  std::uint64_t save_server_artifact(const std::string& path) const;

  const RemoteLayersOptions& options() const noexcept;
  RemoteLayersStats stats() const;
  void reset_stats() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fhellm
