// Compiled artifacts: `fhellm compile` splits a model into what the server
// holds (NAME.server) and what the client holds (NAME.client).
//
// NAME.server: the remote groups' and tables' int8 weights and their public
// description; no client secret, no tokenizer.
//   0   4  magic "FHSA"     4  2  version (2)     6  2  reserved (0)
//   8   4  desc_len (<= 64 MiB), description (remote_model.h layout)
//   ..  per linear or table of the description, in its order: u32 shared,
//       then, when shared is 0xffffffff, n_out * n_in int8 values (row-major
//       [out, in]; a table [rows, dim]; |v| <= 2^(weight_bits-1) - 1), else
//       nothing: the entry holds the values of the earlier entry `shared`
//       (a tied LM head is the token table: stored once)
//   ..  8  FNV-1a 64 checksum of every byte before it
//
// NAME.client: everything but the remote weights and tables.
//   0   4  magic "FHCA"     4  2  version (2)     6  2  reserved (0)
//   8      config: arch u8, rope_style u8, tied_head u8, rope_scaling.enabled u8,
//          dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size,
//          context, rope_scaling.original_context (u32 each), norm_eps,
//          rope_theta, rope_scaling.factor, .low_freq_factor, .high_freq_factor
//          (f32 each), bos_id, eos_id (i32)
//   ..  4  desc_len (<= 64 MiB), description (remote_model.h): the remote set,
//          its quantization and the weight scales / row sums to dequantize
//   ..     tensors, in ModelWeights order (token_embedding, position_embedding,
//          per layer attn_norm, attn_norm_bias, wqkv, bqkv, wo, bo, ffn_norm,
//          ffn_norm_bias, w_up, b_up, w_down, b_down; final_norm,
//          final_norm_bias, lm_head): each u32 count then count f32. A remote
//          group's weight or table has count 0 (it is not in the file).
//   ..  4  n_files (1..4), per file: u32 name_len (<= 64), name, u32 len, bytes
//          (the tokenizer files, loaded from a temporary folder)
//   ..  8  FNV-1a 64 checksum of every byte before it
//
// Every length is checked against the bytes left and a hard maximum before
// allocation; the model is rebuilt through model::Model::create, which checks
// every tensor's size against the config, with the remote groups' weights
// absent (never allocated). NAME.client is read in bounded pieces, never
// whole: tensors go from the file straight into their vectors.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hybrid/remote_model.h"
#include "model/model.h"
#include "common/progress.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"

namespace fhellm::hybrid {

inline constexpr std::uint16_t kArtifactVersion = 2;

struct CompileOptions {
  std::string remote = "default";  // HybridModel::set_remote_modules spec
  quant::QuantOptions quant;
  std::filesystem::path tokenizer;    // empty: found next to the model (a GGUF file: its own)
  ProgressCallback progress;          // optional: (groups quantized, groups)
};

struct CompileReport {
  std::filesystem::path server_path, client_path;
  std::uint64_t server_bytes = 0, client_bytes = 0;
  std::size_t n_remote = 0;
};

// Loads the model at `model_path`, quantizes its remote groups and writes
// `out_prefix`.server and `out_prefix`.client.
// @throws the loaders' errors, Error(file_not_found) for a missing tokenizer,
//         Error(io_error) when a file cannot be written.
CompileReport compile_artifacts(const std::filesystem::path& model_path, const std::filesystem::path& out_prefix,
                                const CompileOptions& options);

// The same for a model already in memory (e.g. model::random_model of a real
// model's shape, for benchmarks); `options.tokenizer` names its tokenizer.
// @throws Error(invalid_argument) for an empty options.tokenizer, Error(bad_config)
//         for a null model, and as above.
CompileReport compile_artifacts(std::shared_ptr<const model::Model> model, const std::filesystem::path& out_prefix,
                                const CompileOptions& options);

// Writes a server artifact (the layout above): `description` and the int8
// values of each of its linears, in its order (row-major [n_out, n_in]).
// Returns the bytes written. For layers that are not a model's groups (the
// Python package's fhellm.torch, through fhellm::RemoteLayers).
// @throws Error(invalid_argument) for values that disagree with the
//         description, Error(io_error) when the file cannot be written.
std::uint64_t write_server_artifact(const std::filesystem::path& path, const RemoteModelDescription& description,
                                    const std::vector<std::span<const std::int8_t>>& values);

// The server side of a compiled model, ready to serve.
// @throws Error(file_not_found | io_error | bad_magic | bad_version |
//               truncated | length_too_large | trailing_bytes | bad_artifact).
std::shared_ptr<RemoteLinearService> load_server_artifact(const std::filesystem::path& path,
                                                          const RemoteServiceOptions& options = {});

struct ClientArtifact {
  // Holds no remote group's weight (model->holds_weight is false for them;
  // their shapes and biases are kept): only the execute mode may run it.
  std::shared_ptr<const model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::vector<LinearId> remote;
  RemoteModelDescription description;
  Bytes description_bytes;  // compared with the server's on open
};

// @throws as load_server_artifact, plus the model's and tokenizer's errors.
ClientArtifact load_client_artifact(const std::filesystem::path& path);

}  // namespace fhellm::hybrid
