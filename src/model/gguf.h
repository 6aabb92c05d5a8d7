// GGUF: the single-file model format of llama.cpp / ggml (versions 2 and 3).
//
// Layout, all little-endian (spec: ggml docs/gguf.md):
//   char[4]  magic "GGUF"
//   uint32   version (2 or 3; version 1 used 32-bit counts and is refused)
//   uint64   tensor_count
//   uint64   metadata_kv_count
//   metadata_kv_count times:
//     string key                  (string = uint64 length + that many bytes, no NUL)
//     uint32 value_type           (GgufValueType)
//     value                       (array = uint32 element type, uint64 count, elements)
//   tensor_count times:
//     string name
//     uint32 n_dims               (1..4)
//     uint64 ne[n_dims]           (ne[0] varies fastest: a PyTorch [out, in] weight has ne = {in, out})
//     uint32 ggml_type            (GgmlType)
//     uint64 offset               (from the start of the data section; a multiple of the alignment)
//   padding to `general.alignment` (uint32 key, default 32)
//   tensor data
//
// Block-quantized types (32 values per block):
//   Q8_0: fp16 d, int8 q[32];            x = d * q
//   Q4_0: fp16 d, uint8 qs[16];          x = d * (nibble - 8), low nibbles are values 0..15,
//                                        high nibbles values 16..31
//
// Checked on open, before anything is allocated: counts against the bytes
// left and hard maxima, every string and array length, n_dims, every ne > 0
// and their product, the element count a multiple of the block size, each
// tensor's offset aligned and offset + size within the data section,
// duplicate keys and tensor names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"

namespace fhellm::model {

class MappedFile;

enum class GgufValueType : std::uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

enum class GgmlType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q8_0 = 8,
  bf16 = 30,
};

// One metadata value. Scalars fill `number` (integers exactly up to 2^53)
// or `text`; arrays fill `numbers` or `strings` (nested arrays are skipped
// and left empty).
struct GgufValue {
  GgufValueType type = GgufValueType::uint8;
  GgufValueType element_type = GgufValueType::uint8;  // arrays only
  double number = 0;
  std::string text;
  std::vector<double> numbers;
  std::vector<std::string> strings;
  std::size_t array_size = 0;  // element count of an array
};

struct GgufTensorInfo {
  std::string name;
  std::vector<std::uint64_t> ne;  // ggml order: ne[0] fastest
  GgmlType type = GgmlType::f32;
  std::uint64_t offset = 0;  // from the data section
  std::uint64_t n_bytes = 0;
  std::uint64_t numel() const;
};

class GgufFile {
 public:
  // Maps and parses the file. @throws Error(file_not_found, io_error,
  // bad_magic, bad_version, truncated, bad_model_file, unsupported_dtype)
  explicit GgufFile(const std::filesystem::path& path);
  ~GgufFile();
  GgufFile(GgufFile&&) noexcept;

  std::uint32_t version() const { return version_; }
  std::size_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::map<std::string, GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  // Typed look-ups: nullopt when absent. @throws Error(bad_model_file) when
  // present with another type (or a negative / fractional count).
  std::optional<std::uint64_t> get_count(const std::string& key) const;
  std::optional<double> get_number(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;

  // The tensor as float32 values in file order (F32, F16, BF16, Q8_0, Q4_0).
  // @throws Error(missing_tensor, unsupported_dtype)
  std::vector<float> read_float(const std::string& name) const;

 private:
  void parse();
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> file_;
  std::uint32_t version_ = 0;
  std::size_t alignment_ = 32;
  std::size_t data_start_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::map<std::string, GgufTensorInfo> tensors_;
};

// The tokenizer a GGUF embeds (tokenizer.ggml.*), as plain data: the
// tokenizer layer turns it into a Tokenizer (tokenizer/ggml_vocab.h),
// joined to this one in hybrid/gguf_tokenizer.h.
struct GgufVocab {
  std::string model;  // "llama", "gpt2", ...; empty when the file has no tokenizer
  std::string pre;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> token_types;
  std::vector<std::string> merges;
  std::int32_t bos = -1;
  std::int32_t eos = -1;
};

// @throws Error(bad_model_file) for arrays of the wrong type
GgufVocab read_gguf_vocab(const GgufFile& file);

// ModelConfig of a GGUF (general.architecture "llama" or "gpt2" and its
// <arch>.* keys; the vocabulary size from token_embd).
// @throws Error(unsupported_architecture, bad_config, missing_tensor)
ModelConfig gguf_model_config(const GgufFile& file);

// Loads a GGUF model: Llama (token_embd, blk.N.{attn_norm, attn_q, attn_k,
// attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm,
// output (absent = tied)) or GPT-2 (token_embd, position_embd,
// blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down} with
// biases, output_norm, output). Llama Q/K rows are in the interleaved RoPE
// layout that llama.cpp's converter writes.
// @throws as GgufFile, plus Error(missing_tensor, tensor_shape_mismatch,
//         unsupported_architecture, bad_config)
std::shared_ptr<const Model> load_gguf(const std::filesystem::path& path);

}  // namespace fhellm::model
