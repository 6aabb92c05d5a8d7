// llama2.c legacy checkpoint loader (layout in model/loader.h).
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

}  // namespace

std::shared_ptr<const Model> load_llama2c(const std::filesystem::path& file_path) {
  MappedFile file(file_path);
  const std::string where = "llama2.c checkpoint '" + file_path.filename().string() + "'";
  require(file.size() >= 7 * sizeof(std::int32_t), ErrorCode::truncated,
          where + ": " + std::to_string(file.size()) + " bytes, shorter than the 28-byte header");
  std::int32_t h[7];
  std::memcpy(h, file.data(), sizeof(h));
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
  c.tied_head = h[5] > 0;
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

  const std::size_t L = c.n_layers, d = c.dim, kv = c.kv_dim(), hid = c.hidden_dim;
  // Total size first: a clear message for a wrong header rather than for one tensor.
  const std::size_t n_floats = c.vocab_size * d + 2 * L * d + 2 * L * d * d + 2 * L * kv * d + 3 * L * hid * d + d +
                               c.context * c.head_dim + (c.tied_head ? 0 : c.vocab_size * d);
  const std::size_t expected = 28 + n_floats * sizeof(float);
  require(file.size() >= expected, ErrorCode::truncated,
          where + ": header describes " + std::to_string(expected) + " bytes, file has " + std::to_string(file.size()));
  require(file.size() == expected, ErrorCode::bad_model_file,
          where + ": " + std::to_string(file.size() - expected) + " unexpected trailing bytes after " +
              std::to_string(expected));

  using R = TensorRole;
  const auto name = [](TensorRole role) { return tensor_name(Architecture::llama, TensorFormat::llama2c, role); };
  Cursor cur(file, 28, where);
  ModelWeights w;
  w.token_embedding = cur.take(c.vocab_size * d, name(R::token_embedding));
  const auto rms_att = cur.take(L * d, name(R::attn_norm));
  const auto wq = cur.take(L * d * d, name(R::q));
  const auto wk = cur.take(L * kv * d, name(R::k));
  const auto wv = cur.take(L * kv * d, name(R::v));
  const auto wo = cur.take(L * d * d, name(R::attn_out));
  const auto rms_ffn = cur.take(L * d, name(R::ffn_norm));
  const auto w1 = cur.take(L * hid * d, name(R::gate));
  const auto w2 = cur.take(L * d * hid, name(R::down));
  const auto w3 = cur.take(L * hid * d, name(R::up));
  w.final_norm = cur.take(d, name(R::final_norm));
  cur.skip(c.context * c.head_dim / 2, "freq_cis_real");  // recomputed from rope_theta
  cur.skip(c.context * c.head_dim / 2, "freq_cis_imag");
  if (!c.tied_head) w.lm_head = cur.take(c.vocab_size * d, name(R::lm_head));

  w.layers.resize(L);
  for (std::size_t l = 0; l < L; ++l) {
    LayerWeights& lw = w.layers[l];
    append_block(lw.attn_norm, rms_att, l, d);
    append_block(lw.wqkv, wq, l, d * d);
    append_block(lw.wqkv, wk, l, kv * d);
    append_block(lw.wqkv, wv, l, kv * d);
    append_block(lw.wo, wo, l, d * d);
    append_block(lw.ffn_norm, rms_ffn, l, d);
    append_block(lw.w_up, w1, l, hid * d);  // gate rows, then up rows
    append_block(lw.w_up, w3, l, hid * d);
    append_block(lw.w_down, w2, l, d * hid);
  }
  return Model::create(std::move(c), std::move(w));
}

}  // namespace fhellm::model
