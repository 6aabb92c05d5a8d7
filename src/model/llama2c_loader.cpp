// llama2.c checkpoint loader: the legacy layout and the versioned exports
// (version 1 float32, version 2 Q8_0), layouts in model/loader.h.
#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/mapped_file.h"
#include "model/tensor_names.h"

namespace fhellm::model {
namespace {

// Walks the float section of the file, checking each tensor against the bytes left.
class Cursor {
 public:
  Cursor(const MappedFile& file, std::size_t offset, std::string where)
      : file_(file), offset_(offset), where_(std::move(where)) {}

  std::vector<float> take(std::size_t count, const std::string& tensor) {
    const std::size_t left = file_.size() - offset_;
    require(count <= left / sizeof(float), ErrorCode::truncated,
            where_ + ": tensor '" + tensor + "' needs " + std::to_string(count * sizeof(float)) + " bytes at offset " +
                std::to_string(offset_) + ", only " + std::to_string(left) + " left");
    std::vector<float> out(count);
    std::memcpy(out.data(), file_.data() + offset_, count * sizeof(float));
    offset_ += count * sizeof(float);
    return out;
  }
  // Version 2: int8 values then float32 group scales, dequantized.
  std::vector<float> take_q8(std::size_t count, std::size_t group, const std::string& tensor) {
    require(count % group == 0, ErrorCode::bad_model_file,
            where_ + ": tensor '" + tensor + "' of " + std::to_string(count) + " values is not whole groups of " +
                std::to_string(group));
    const std::size_t left = file_.size() - offset_;
    require(count <= left, ErrorCode::truncated,
            where_ + ": tensor '" + tensor + "' needs " + std::to_string(count) + " int8 values at offset " +
                std::to_string(offset_) + ", only " + std::to_string(left) + " bytes left");
    const auto* q = reinterpret_cast<const std::int8_t*>(file_.data() + offset_);
    offset_ += count;
    const std::vector<float> scales = take(count / group, tensor + " scales");
    std::vector<float> out(count);
    for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(q[i]) * scales[i / group];
    return out;
  }
  void skip(std::size_t count, const std::string& tensor) {
    const std::size_t left = file_.size() - offset_;
    require(count <= left / sizeof(float), ErrorCode::truncated,
            where_ + ": tensor '" + tensor + "' needs " + std::to_string(count * sizeof(float)) + " bytes, only " +
                std::to_string(left) + " left");
    offset_ += count * sizeof(float);
  }
  std::size_t offset() const { return offset_; }

 private:
  const MappedFile& file_;
  std::size_t offset_;
  std::string where_;
};

// Splits a stacked [L, rows, cols] tensor into layer l's [rows, cols] block.
void append_block(std::vector<float>& dst, const std::vector<float>& stacked, std::size_t l, std::size_t block) {
  dst.insert(dst.end(), stacked.begin() + static_cast<std::ptrdiff_t>(l * block),
             stacked.begin() + static_cast<std::ptrdiff_t>((l + 1) * block));
}

constexpr std::uint32_t kVersionedMagic = 0x616b3432;  // "ak42"
constexpr std::size_t kVersionedHeaderBytes = 256;

// The seven header ints (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len) as a ModelConfig; a negative vocab_size means an
// untied classifier (legacy), else `tied` says.
ModelConfig config_from_header(const std::int32_t* h, bool tied, const std::string& where) {
  for (int i = 0; i < 7; ++i) {
    require(i == 5 || h[i] > 0, ErrorCode::bad_model_file,
            where + ": header field " + std::to_string(i) + " = " + std::to_string(h[i]) + " must be positive");
  }
  require(h[5] != 0 && h[5] != INT32_MIN, ErrorCode::bad_model_file, where + ": vocab_size = " + std::to_string(h[5]));
  ModelConfig c;
  c.arch = Architecture::llama;
  c.dim = static_cast<std::size_t>(h[0]);
  c.hidden_dim = static_cast<std::size_t>(h[1]);
  c.n_layers = static_cast<std::size_t>(h[2]);
  c.n_heads = static_cast<std::size_t>(h[3]);
  c.n_kv_heads = static_cast<std::size_t>(h[4]);
  c.tied_head = tied && h[5] > 0;
  c.vocab_size = static_cast<std::size_t>(h[5] > 0 ? h[5] : -h[5]);
  c.context = static_cast<std::size_t>(h[6]);
  require(c.dim % c.n_heads == 0, ErrorCode::bad_config,
          where + ": dim " + std::to_string(c.dim) + " is not a multiple of n_heads " + std::to_string(c.n_heads));
  c.head_dim = c.dim / c.n_heads;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::interleaved;
  c.bos_id = 1;
  c.eos_id = 2;
  c.validate();  // bounds every dimension before any size below is computed
  return c;
}

// A tensor's name in llama2.c's export (model/tensor_names.h), for messages.
std::string llama2c_name(TensorRole role) { return tensor_name(Architecture::llama, TensorFormat::llama2c, role); }

// The stacked per-layer tensors every format holds, in llama2.c's names.
struct StackedTensors {
  std::vector<float> rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3;
};

std::shared_ptr<const Model> assemble(ModelConfig c, ModelWeights w, const StackedTensors& t) {
  const std::size_t d = c.dim, kv = c.kv_dim(), hid = c.hidden_dim;
  w.layers.resize(c.n_layers);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = w.layers[l];
    append_block(lw.attn_norm, t.rms_att, l, d);
    append_block(lw.wqkv, t.wq, l, d * d);
    append_block(lw.wqkv, t.wk, l, kv * d);
    append_block(lw.wqkv, t.wv, l, kv * d);
    append_block(lw.wo, t.wo, l, d * d);
    append_block(lw.ffn_norm, t.rms_ffn, l, d);
    append_block(lw.w_up, t.w1, l, hid * d);  // gate rows, then up rows
    append_block(lw.w_up, t.w3, l, hid * d);
    append_block(lw.w_down, t.w2, l, d * hid);
  }
  return Model::create(std::move(c), std::move(w));
}

void require_size(const MappedFile& file, std::size_t expected, const std::string& where) {
  require(file.size() >= expected, ErrorCode::truncated,
          where + ": header describes " + std::to_string(expected) + " bytes, file has " + std::to_string(file.size()));
  require(file.size() == expected, ErrorCode::bad_model_file,
          where + ": " + std::to_string(file.size() - expected) + " unexpected trailing bytes after " +
              std::to_string(expected));
}

std::shared_ptr<const Model> load_legacy(const MappedFile& file, const std::string& where) {
  require(file.size() >= 7 * sizeof(std::int32_t), ErrorCode::truncated,
          where + ": " + std::to_string(file.size()) + " bytes, shorter than the 28-byte header");
  std::int32_t h[7];
  std::memcpy(h, file.data(), sizeof(h));
  ModelConfig c = config_from_header(h, true, where);
  const std::size_t L = c.n_layers, d = c.dim, kv = c.kv_dim(), hid = c.hidden_dim;
  // Total size first: a clear message for a wrong header rather than for one tensor.
  const std::size_t n_floats = c.vocab_size * d + 2 * L * d + 2 * L * d * d + 2 * L * kv * d + 3 * L * hid * d + d +
                               c.context * c.head_dim + (c.tied_head ? 0 : c.vocab_size * d);
  require_size(file, 28 + n_floats * sizeof(float), where);

  Cursor cur(file, 28, where);
  ModelWeights w;
  StackedTensors t;
  w.token_embedding = cur.take(c.vocab_size * d, llama2c_name(TensorRole::token_embedding));
  t.rms_att = cur.take(L * d, llama2c_name(TensorRole::attn_norm));
  t.wq = cur.take(L * d * d, llama2c_name(TensorRole::q));
  t.wk = cur.take(L * kv * d, llama2c_name(TensorRole::k));
  t.wv = cur.take(L * kv * d, llama2c_name(TensorRole::v));
  t.wo = cur.take(L * d * d, llama2c_name(TensorRole::attn_out));
  t.rms_ffn = cur.take(L * d, llama2c_name(TensorRole::ffn_norm));
  t.w1 = cur.take(L * hid * d, llama2c_name(TensorRole::gate));
  t.w2 = cur.take(L * d * hid, llama2c_name(TensorRole::down));
  t.w3 = cur.take(L * hid * d, llama2c_name(TensorRole::up));
  w.final_norm = cur.take(d, llama2c_name(TensorRole::final_norm));
  cur.skip(c.context * c.head_dim / 2, "freq_cis_real");  // recomputed from rope_theta
  cur.skip(c.context * c.head_dim / 2, "freq_cis_imag");
  if (!c.tied_head) w.lm_head = cur.take(c.vocab_size * d, llama2c_name(TensorRole::lm_head));
  return assemble(std::move(c), std::move(w), t);
}

std::shared_ptr<const Model> load_versioned(const MappedFile& file, const std::string& where) {
  require(file.size() >= kVersionedHeaderBytes, ErrorCode::truncated,
          where + ": " + std::to_string(file.size()) + " bytes, shorter than the 256-byte header");
  std::int32_t version = 0, h[7], group = 0;
  std::memcpy(&version, file.data() + 4, 4);
  require(version == 1 || version == 2, ErrorCode::bad_version,
          where + ": export version " + std::to_string(version) + " (this reader knows 1 and 2)");
  std::memcpy(h, file.data() + 8, sizeof(h));
  const std::uint8_t shared = file.data()[36];
  require(shared <= 1, ErrorCode::bad_model_file, where + ": shared_classifier flag " + std::to_string(shared));
  require(h[5] > 0, ErrorCode::bad_model_file, where + ": vocab_size " + std::to_string(h[5]) + " must be positive");
  ModelConfig c = config_from_header(h, shared == 1, where);
  const std::size_t L = c.n_layers, d = c.dim, kv = c.kv_dim(), hid = c.hidden_dim, V = c.vocab_size;
  const std::size_t norms = 2 * L * d + d;
  const std::size_t matrices = V * d + 2 * L * d * d + 2 * L * kv * d + 3 * L * hid * d + (c.tied_head ? 0 : V * d);
  if (version == 2) {
    std::memcpy(&group, file.data() + 37, 4);
    require(group > 0 && d % static_cast<std::size_t>(group) == 0, ErrorCode::bad_model_file,
            where + ": group_size " + std::to_string(group) + " does not divide dim " + std::to_string(d));
  }
  const std::size_t g = static_cast<std::size_t>(group);
  require_size(file,
               kVersionedHeaderBytes + 4 * norms + (version == 1 ? 4 * matrices : matrices + 4 * (matrices / g)),
               where);

  Cursor cur(file, kVersionedHeaderBytes, where);
  ModelWeights w;
  StackedTensors t;
  t.rms_att = cur.take(L * d, llama2c_name(TensorRole::attn_norm));
  t.rms_ffn = cur.take(L * d, llama2c_name(TensorRole::ffn_norm));
  w.final_norm = cur.take(d, llama2c_name(TensorRole::final_norm));
  // Version 2 quantizes each layer's matrix on its own: read them one by one.
  auto matrix = [&](std::size_t count, const std::string& name) {
    return version == 1 ? cur.take(count, name) : cur.take_q8(count, g, name);
  };
  auto stacked = [&](std::size_t per_layer, const std::string& name) {
    std::vector<float> all;
    all.reserve(L * per_layer);
    for (std::size_t l = 0; l < L; ++l) {
      const std::vector<float> one = matrix(per_layer, name + "[" + std::to_string(l) + "]");
      all.insert(all.end(), one.begin(), one.end());
    }
    return all;
  };
  w.token_embedding = matrix(V * d, llama2c_name(TensorRole::token_embedding));
  t.wq = stacked(d * d, llama2c_name(TensorRole::q));
  t.wk = stacked(kv * d, llama2c_name(TensorRole::k));
  t.wv = stacked(kv * d, llama2c_name(TensorRole::v));
  t.wo = stacked(d * d, llama2c_name(TensorRole::attn_out));
  t.w1 = stacked(hid * d, llama2c_name(TensorRole::gate));
  t.w2 = stacked(d * hid, llama2c_name(TensorRole::down));
  t.w3 = stacked(hid * d, llama2c_name(TensorRole::up));
  if (!c.tied_head) w.lm_head = matrix(V * d, llama2c_name(TensorRole::lm_head));
  return assemble(std::move(c), std::move(w), t);
}

}  // namespace

std::shared_ptr<const Model> load_llama2c(const std::filesystem::path& file_path) {
  MappedFile file(file_path);
  const std::string where = "llama2.c checkpoint '" + file_path.filename().string() + "'";
  std::uint32_t magic = 0;
  if (file.size() >= 4) std::memcpy(&magic, file.data(), 4);
  // A legacy file starts with dim, which is never 0x616b3432.
  return magic == kVersionedMagic ? load_versioned(file, where) : load_legacy(file, where);
}

}  // namespace fhellm::model
