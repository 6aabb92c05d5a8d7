// Hugging Face folder loader: config.json + safetensors (layout in loader.h).
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/safetensors.h"
#include "model/tensor_names.h"

namespace fhellm::model {
namespace {

using nlohmann::json;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t get_size(const json& j, const char* key, std::optional<std::size_t> fallback = std::nullopt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    require(fallback.has_value(), ErrorCode::bad_config, std::string("config.json: missing '") + key + "'");
    return *fallback;
  }
  require(it->is_number_integer() && it->get<std::int64_t>() > 0, ErrorCode::bad_config,
          std::string("config.json: '") + key + "' = " + it->dump() + " is not a positive integer");
  return static_cast<std::size_t>(it->get<std::int64_t>());
}

float get_float(const json& j, const char* key, float fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  require(it->is_number(), ErrorCode::bad_config,
          std::string("config.json: '") + key + "' = " + it->dump() + " is not a number");
  return it->get<float>();
}

std::int32_t get_token_id(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return -1;
  const json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;
  return v.is_number_integer() ? v.get<std::int32_t>() : -1;
}

// All tensors of a folder, across shards, looked up by name with checked shapes.
class TensorStore {
 public:
  explicit TensorStore(const std::filesystem::path& dir) {
    const auto single = dir / "model.safetensors";
    const auto index = dir / "model.safetensors.index.json";
    if (std::filesystem::exists(single)) {
      add_file(single);
    } else if (std::filesystem::exists(index)) {
      json j;
      try {
        j = json::parse(read_text(index));
      } catch (const json::exception& e) {
        throw Error(ErrorCode::bad_model_file, "model.safetensors.index.json is not valid JSON (" + std::string(e.what()) + ")");
      }
      require(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), ErrorCode::bad_model_file,
              "model.safetensors.index.json: no 'weight_map' object");
      std::set<std::string> shards;
      for (const auto& [tensor, file] : j["weight_map"].items()) {
        require(file.is_string(), ErrorCode::bad_model_file, "weight_map entry for '" + tensor + "' is not a file name");
        const std::string name = file.get<std::string>();
        // A shard must be a plain file name inside the folder.
        require(!name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
                    name != "." && name != "..",
                ErrorCode::bad_model_file, "weight_map: shard name '" + name + "' is not a plain file name");
        shards.insert(name);
      }
      require(!shards.empty(), ErrorCode::bad_model_file, "model.safetensors.index.json lists no shard");
      for (const auto& s : shards) add_file(dir / s);
    } else {
      throw Error(ErrorCode::file_not_found,
                  "'" + dir.string() + "' has neither model.safetensors nor model.safetensors.index.json");
    }
  }

  bool contains(const std::string& name) const { return where_.count(name) != 0; }

  // Reads `name` checking its shape is `shape`.
  std::vector<float> get(const std::string& name, std::vector<std::size_t> shape) const {
    auto it = where_.find(name);
    require(it != where_.end(), ErrorCode::missing_tensor, "tensor '" + name + "' is missing");
    const SafetensorsFile& f = files_[it->second];
    const TensorInfo& info = f.tensors().at(name);
    require(info.shape == shape, ErrorCode::tensor_shape_mismatch,
            "tensor '" + name + "': expected " + shape_str(shape) + ", file has " + shape_str(info.shape));
    return f.read_float(name);
  }

  static std::string shape_str(const std::vector<std::size_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

 private:
  void add_file(const std::filesystem::path& path) {
    files_.emplace_back(path);
    for (const auto& [name, info] : files_.back().tensors()) where_[name] = files_.size() - 1;
  }
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t> where_;
};

// Conv1D stores [in, out]; the forward pass wants [out, in].
std::vector<float> transpose(const std::vector<float>& a, std::size_t rows, std::size_t cols) {
  std::vector<float> t(a.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

void append(std::vector<float>& dst, const std::vector<float>& src) { dst.insert(dst.end(), src.begin(), src.end()); }

// Tensor names of a folder (tensor_names.h), with the prefix some GPT-2
// exports put before every tensor but lm_head.
class HfNames {
 public:
  HfNames(const TensorStore& st, Architecture arch) : arch_(arch) {
    if (arch == Architecture::gpt2 && st.contains("transformer." + (*this)(TensorRole::token_embedding))) {
      prefix_ = "transformer.";
    }
  }
  std::string operator()(TensorRole role, std::size_t layer = 0) const {
    return (role == TensorRole::lm_head ? std::string() : prefix_) +
           tensor_name(arch_, TensorFormat::hugging_face, role, layer);
  }

 private:
  Architecture arch_;
  std::string prefix_;
};

ModelWeights load_gpt2(const TensorStore& st, const ModelConfig& c) {
  using R = TensorRole;
  const HfNames name(st, Architecture::gpt2);
  const std::size_t d = c.dim, h = c.hidden_dim;
  ModelWeights w;
  w.token_embedding = st.get(name(R::token_embedding), {c.vocab_size, d});
  w.position_embedding = st.get(name(R::position_embedding), {c.context, d});
  w.layers.resize(c.n_layers);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.attn_norm = st.get(name(R::attn_norm, l), {d});
    lw.attn_norm_bias = st.get(name(R::attn_norm_bias, l), {d});
    lw.wqkv = transpose(st.get(name(R::qkv, l), {d, 3 * d}), d, 3 * d);
    lw.bqkv = st.get(name(R::qkv_bias, l), {3 * d});
    lw.wo = transpose(st.get(name(R::attn_out, l), {d, d}), d, d);
    lw.bo = st.get(name(R::attn_out_bias, l), {d});
    lw.ffn_norm = st.get(name(R::ffn_norm, l), {d});
    lw.ffn_norm_bias = st.get(name(R::ffn_norm_bias, l), {d});
    lw.w_up = transpose(st.get(name(R::up, l), {d, h}), d, h);
    lw.b_up = st.get(name(R::up_bias, l), {h});
    lw.w_down = transpose(st.get(name(R::down, l), {h, d}), h, d);
    lw.b_down = st.get(name(R::down_bias, l), {d});
  }
  w.final_norm = st.get(name(R::final_norm), {d});
  w.final_norm_bias = st.get(name(R::final_norm_bias), {d});
  if (!c.tied_head) w.lm_head = st.get(name(R::lm_head), {c.vocab_size, d});
  return w;
}

ModelWeights load_llama(const TensorStore& st, const ModelConfig& c) {
  using R = TensorRole;
  const HfNames name(st, Architecture::llama);
  const std::size_t d = c.dim, h = c.hidden_dim, q = c.q_dim(), kv = c.kv_dim();
  ModelWeights w;
  w.token_embedding = st.get(name(R::token_embedding), {c.vocab_size, d});
  w.layers.resize(c.n_layers);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.attn_norm = st.get(name(R::attn_norm, l), {d});
    lw.wqkv = st.get(name(R::q, l), {q, d});
    append(lw.wqkv, st.get(name(R::k, l), {kv, d}));
    append(lw.wqkv, st.get(name(R::v, l), {kv, d}));
    lw.wo = st.get(name(R::attn_out, l), {d, q});
    lw.ffn_norm = st.get(name(R::ffn_norm, l), {d});
    lw.w_up = st.get(name(R::gate, l), {h, d});
    append(lw.w_up, st.get(name(R::up, l), {h, d}));
    lw.w_down = st.get(name(R::down, l), {d, h});
  }
  w.final_norm = st.get(name(R::final_norm), {d});
  if (!c.tied_head) w.lm_head = st.get(name(R::lm_head), {c.vocab_size, d});
  return w;
}

}  // namespace

ModelConfig parse_hf_config(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::bad_config, "config.json is not valid JSON (" + std::string(e.what()) + ")");
  }
  require(j.is_object(), ErrorCode::bad_config, "config.json is not a JSON object");
  std::string type;
  if (j.contains("model_type")) {
    require(j["model_type"].is_string(), ErrorCode::bad_config, "config.json: model_type is not a string");
    type = j["model_type"].get<std::string>();
  }
  if (type.empty() && j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    const std::string a = j["architectures"][0].get<std::string>();
    if (a == "GPT2LMHeadModel") type = "gpt2";
    if (a == "LlamaForCausalLM") type = "llama";
  }
  ModelConfig c;
  c.arch = parse_architecture(type);
  try {
    if (c.arch == Architecture::gpt2) {
      c.dim = get_size(j, "n_embd");
      c.n_layers = get_size(j, "n_layer");
      c.n_heads = get_size(j, "n_head");
      c.n_kv_heads = c.n_heads;
      c.vocab_size = get_size(j, "vocab_size");
      c.context = get_size(j, "n_positions", get_size(j, "n_ctx", 1024));
      c.hidden_dim = get_size(j, "n_inner", 4 * c.dim);
      c.norm_eps = get_float(j, "layer_norm_epsilon", 1e-5f);
      c.tied_head = j.value("tie_word_embeddings", true);
      const std::string act = j.value("activation_function", std::string("gelu_new"));
      require(act == "gelu_new" || act == "gelu_pytorch_tanh", ErrorCode::unsupported_architecture,
              "config.json: activation_function '" + act + "' is not supported (gelu_new)");
      require(c.dim % c.n_heads == 0, ErrorCode::bad_config,
              "config.json: n_embd " + std::to_string(c.dim) + " not a multiple of n_head " + std::to_string(c.n_heads));
      c.head_dim = c.dim / c.n_heads;
    } else {
      c.dim = get_size(j, "hidden_size");
      c.hidden_dim = get_size(j, "intermediate_size");
      c.n_layers = get_size(j, "num_hidden_layers");
      c.n_heads = get_size(j, "num_attention_heads");
      c.n_kv_heads = get_size(j, "num_key_value_heads", c.n_heads);
      require(c.dim % c.n_heads == 0 || j.contains("head_dim"), ErrorCode::bad_config,
              "config.json: hidden_size not a multiple of num_attention_heads");
      c.head_dim = get_size(j, "head_dim", c.dim / c.n_heads);
      c.vocab_size = get_size(j, "vocab_size");
      c.context = get_size(j, "max_position_embeddings", 2048);
      c.norm_eps = get_float(j, "rms_norm_eps", 1e-6f);
      c.rope_theta = get_float(j, "rope_theta", 10000.0f);
      c.rope_style = RopeStyle::half;
      c.tied_head = j.value("tie_word_embeddings", false);
      if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
        const json& s = j["rope_scaling"];
        require(s.is_object(), ErrorCode::bad_config, "config.json: rope_scaling is not an object");
        const std::string kind = s.value("rope_type", s.value("type", std::string()));
        require(kind == "llama3", ErrorCode::unsupported_architecture,
                "config.json: rope_scaling type '" + kind + "' is not supported (llama3)");
        c.rope_scaling.enabled = true;
        c.rope_scaling.factor = get_float(s, "factor", 8.0f);
        c.rope_scaling.low_freq_factor = get_float(s, "low_freq_factor", 1.0f);
        c.rope_scaling.high_freq_factor = get_float(s, "high_freq_factor", 4.0f);
        c.rope_scaling.original_context = get_size(s, "original_max_position_embeddings", 8192);
      }
    }
    c.bos_id = get_token_id(j, "bos_token_id");
    c.eos_id = get_token_id(j, "eos_token_id");
  } catch (const json::exception& e) {
    throw Error(ErrorCode::bad_config, "config.json: " + std::string(e.what()));
  }
  // The context bounds the KV cache; huge contexts (Llama 3: 131072) are
  // kept as the model's limit, sessions choose a smaller one.
  c.validate();
  return c;
}

std::shared_ptr<const Model> load_hf_folder(const std::filesystem::path& dir) {
  const ModelConfig c = parse_hf_config(read_text(dir / "config.json"));
  TensorStore store(dir);
  ModelWeights w = c.arch == Architecture::gpt2 ? load_gpt2(store, c) : load_llama(store, c);
  return Model::create(c, std::move(w));
}

}  // namespace fhellm::model
