#include "hybrid/artifact.h"

#include <openssl/rand.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>

#include "fhellm/error.h"
#include "hybrid/hybrid_model.h"
#include "common/bytes.h"
#include "hybrid/hybrid_model_io.h"
#include "hybrid/gguf_tokenizer.h"
#include "model/loader.h"
#include "tokenizer/ggml_vocab.h"

namespace fhellm::hybrid {

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kServerMagic = 0x41534846;  // "FHSA"
constexpr std::uint32_t kClientMagic = 0x41434846;  // "FHCA"
constexpr std::size_t kMaxDescriptionBytes = 64u << 20;
constexpr std::size_t kMaxTensorFloats = std::size_t{1} << 31;  // 8 GiB of floats
constexpr std::size_t kMaxTokenizerFileBytes = 256u << 20;
constexpr std::uint32_t kMaxTokenizerFiles = 4;

constexpr std::uint64_t kFnv1aBasis = 0xcbf29ce484222325ull;
// Server artifact: an entry whose int8 values follow (else: the index of the
// earlier entry it shares them with).
constexpr std::uint32_t kOwnValues = 0xffffffffu;

std::uint64_t fnv1a(ByteView bytes, std::uint64_t h = kFnv1aBasis) {
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

Bytes read_file(const fs::path& path) {
  std::error_code ec;
  require(fs::is_regular_file(path, ec), ErrorCode::file_not_found, "artifact '" + path.string() + "' not found");
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::io_error, "cannot open '" + path.string() + "'");
  const auto size = fs::file_size(path, ec);
  require(!ec, ErrorCode::io_error, "cannot size '" + path.string() + "'");
  Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  require(in.gcount() == static_cast<std::streamsize>(size), ErrorCode::io_error, "cannot read '" + path.string() + "'");
  return bytes;
}

void write_file(const fs::path& path, ByteView bytes) {
  // Write beside, then rename: a reader never sees half a file.
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    require(out.good(), ErrorCode::io_error, "cannot create '" + tmp.string() + "'");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    require(out.good(), ErrorCode::io_error, "cannot write '" + tmp.string() + "'");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  require(!ec, ErrorCode::io_error, "cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
}

// Header, then checks the trailing checksum; returns a reader over the body.
ByteView checked_body(const Bytes& bytes, std::uint32_t magic, const std::string& what) {
  ByteReader r(bytes, what);
  require(bytes.size() >= 16, ErrorCode::truncated, what + ": " + std::to_string(bytes.size()) + " bytes");
  require(r.u32() == magic, ErrorCode::bad_magic, what + ": bad magic (not this kind of fhellm artifact)");
  const std::uint16_t version = r.u16();
  require(version == kArtifactVersion, ErrorCode::bad_version,
          what + ": version " + std::to_string(version) + ", this build reads " + std::to_string(kArtifactVersion));
  require(r.u16() == 0, ErrorCode::bad_artifact, what + ": reserved field is not 0");
  const ByteView all(bytes);
  ByteReader tail(all.subspan(bytes.size() - 8), what);
  const std::uint64_t stored = tail.u64();
  require(stored == fnv1a(all.first(bytes.size() - 8)), ErrorCode::bad_artifact,
          what + ": checksum mismatch (file corrupt or truncated)");
  return all.subspan(8, bytes.size() - 16);
}

// An artifact read front to back in bounded pieces, never whole: a tensor
// goes from the file straight into its vector, so loading costs the model's
// memory, not the model's plus the file's. The checksum is verified over the
// whole file before any field is parsed, and again over the bytes parsed (the
// file may change in between). Every read is checked against the bytes left
// before the checksum, every length against a hard maximum before allocation.
class StreamedArtifact {
 public:
  // Opens, checks the header (magic, version, reserved) and the checksum.
  // @throws Error(file_not_found | io_error | truncated | bad_magic | bad_version | bad_artifact)
  StreamedArtifact(const fs::path& path, std::uint32_t magic, std::string what) : what_(std::move(what)) {
    std::error_code ec;
    require(fs::is_regular_file(path, ec), ErrorCode::file_not_found, "artifact '" + path.string() + "' not found");
    in_.open(path, std::ios::binary);
    require(in_.good(), ErrorCode::io_error, "cannot open '" + path.string() + "'");
    const std::uint64_t size = fs::file_size(path, ec);
    require(!ec, ErrorCode::io_error, "cannot size '" + path.string() + "'");
    require(size >= 16, ErrorCode::truncated, what_ + ": " + std::to_string(size) + " bytes");
    left_ = 8;
    require(u32() == magic, ErrorCode::bad_magic, what_ + ": bad magic (not this kind of fhellm artifact)");
    const std::uint16_t version = u16();
    require(version == kArtifactVersion, ErrorCode::bad_version,
            what_ + ": version " + std::to_string(version) + ", this build reads " + std::to_string(kArtifactVersion));
    require(u16() == 0, ErrorCode::bad_artifact, what_ + ": reserved field is not 0");
    // First pass: the checksum of everything before the trailer.
    in_.seekg(0);
    std::vector<char> chunk(std::size_t{1} << 20);
    std::uint64_t h = kFnv1aBasis;
    for (std::uint64_t done = 0; done < size - 8;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - 8 - done));
      read_raw(chunk.data(), n);
      h = fnv1a({reinterpret_cast<const std::uint8_t*>(chunk.data()), n}, h);
      done += n;
    }
    stored_checksum_ = trailer();
    require(stored_checksum_ == h, ErrorCode::bad_artifact, what_ + ": checksum mismatch (file corrupt or truncated)");
    // Second pass: the body, hashed again as it is parsed.
    in_.clear();
    in_.seekg(8);
    left_ = size - 16;
  }

  std::uint8_t u8() { return static_cast<std::uint8_t>(get_le(1, "u8")); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get_le(2, "u16")); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get_le(4, "u32")); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  float f32() {
    const std::uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  // u32 length (checked against max_bytes, then against the bytes left), then the bytes.
  // @throws Error(length_too_large | truncated)
  Bytes blob(std::size_t max_bytes, const char* field) {
    const std::uint32_t n = u32();
    require(n <= max_bytes, ErrorCode::length_too_large,
            what_ + ": field '" + field + "' declares " + std::to_string(n) + " bytes, limit " +
                std::to_string(max_bytes));
    Bytes b(n);
    read(b.data(), n, field);
    return b;
  }
  // u32 count then that many finite f32, read straight into the result.
  // @throws Error(length_too_large | truncated | bad_artifact)
  std::vector<float> floats(const char* name) {
    static_assert(std::endian::native == std::endian::little, "artifact floats are little-endian");
    const std::uint32_t n = u32();
    require(n <= kMaxTensorFloats, ErrorCode::length_too_large,
            what_ + ": tensor '" + name + "' has " + std::to_string(n) + " values, limit " +
                std::to_string(kMaxTensorFloats));
    need(std::uint64_t{n} * 4, name);
    std::vector<float> v(n);
    read(v.data(), v.size() * 4, name);
    // The message is built only on failure (not once per value).
    if (!std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); }))
      throw Error(ErrorCode::bad_artifact, what_ + ": tensor '" + name + "' holds a non-finite value");
    return v;
  }
  // Every body byte read, and they are the bytes the checksum covered.
  // @throws Error(trailing_bytes | bad_artifact)
  void expect_end() {
    require(left_ == 0, ErrorCode::trailing_bytes, what_ + ": " + std::to_string(left_) + " bytes after the last field");
    require(hash_ == stored_checksum_, ErrorCode::bad_artifact, what_ + ": the file changed while it was read");
  }
  const std::string& what() const { return what_; }

 private:
  void need(std::uint64_t n, const char* field) const {
    require(n <= left_, ErrorCode::truncated,
            what_ + ": field '" + field + "' needs " + std::to_string(n) + " bytes, " + std::to_string(left_) +
                " left");
  }
  void read_raw(void* dst, std::size_t n) {
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    require(in_.gcount() == static_cast<std::streamsize>(n), ErrorCode::io_error,
            what_ + ": read failed (the file shrank while it was read?)");
  }
  void read(void* dst, std::size_t n, const char* field) {
    need(n, field);
    read_raw(dst, n);
    hash_ = fnv1a({static_cast<const std::uint8_t*>(dst), n}, hash_);
    left_ -= n;
  }
  std::uint64_t get_le(int n, const char* field) {
    std::uint8_t b[8];
    read(b, static_cast<std::size_t>(n), field);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
    return v;
  }
  std::uint64_t trailer() {
    std::uint8_t b[8];
    read_raw(b, 8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
    return v;
  }

  std::ifstream in_;
  std::string what_;
  std::uint64_t left_ = 0;              // body bytes not yet read
  std::uint64_t hash_ = kFnv1aBasis;    // over every byte read through read()
  std::uint64_t stored_checksum_ = 0;
};

void write_header(ByteWriter& w, std::uint32_t magic) {
  w.u32(magic);
  w.u16(kArtifactVersion);
  w.u16(0);
}

void finish(Bytes& out) {
  const std::uint64_t h = fnv1a(out);
  ByteWriter(out).u64(h);
}

void write_floats(ByteWriter& w, const std::vector<float>& v) {
  w.u32(static_cast<std::uint32_t>(v.size()));
  for (float f : v) w.f32(f);
}

// The tensor of a linear group inside ModelWeights (lm_head: the untied head).
template <class Weights>
auto* linear_tensor(Weights& w, LinearId id) {
  if (id.kind == LinearKind::lm_head) return &w.lm_head;
  if (id.kind == LinearKind::token_embedding) return &w.token_embedding;
  if (id.kind == LinearKind::position_embedding) return &w.position_embedding;
  auto& l = w.layers.at(static_cast<std::size_t>(id.layer));
  switch (id.kind) {
    case LinearKind::qkv: return &l.wqkv;
    case LinearKind::attn_out: return &l.wo;
    case LinearKind::mlp_up: return &l.w_up;
    case LinearKind::mlp_down: return &l.w_down;
    default: return decltype(&w.lm_head){nullptr};
  }
}

// Tokenizer files to bundle, as (name, path): --tokenizer, else next to the model.
std::vector<std::pair<std::string, fs::path>> tokenizer_files(const fs::path& tokenizer, const fs::path& model_path,
                                                              std::size_t vocab) {
  std::error_code ec;
  fs::path source = tokenizer;
  if (source.empty()) {
    if (fs::is_directory(model_path, ec)) {
      source = model_path;
    } else {
      for (const std::string& name : {std::string("tokenizer.bin"), std::string("tokenizer.model"),
                                     std::string("tokenizer.json"), "tok" + std::to_string(vocab) + ".bin"}) {
        const fs::path p = model_path.parent_path() / name;
        if (fs::exists(p, ec)) {
          source = p;
          break;
        }
      }
    }
  }
  require(!source.empty(), ErrorCode::file_not_found,
          "no tokenizer next to '" + model_path.string() + "': pass --tokenizer");
  std::vector<std::pair<std::string, fs::path>> files;
  if (fs::is_directory(source, ec)) {
    for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model"}) {
      if (fs::exists(source / name, ec)) files.emplace_back(name, source / name);
    }
  } else {
    require(fs::exists(source, ec), ErrorCode::file_not_found, "tokenizer '" + source.string() + "' not found");
    files.emplace_back(source.filename().string(), source);
  }
  require(!files.empty(), ErrorCode::file_not_found, "no tokenizer file in '" + source.string() + "'");
  return files;
}

// Loads a tokenizer from bundled files through a private temporary folder.
std::unique_ptr<tokenizer::Tokenizer> load_bundled_tokenizer(const std::vector<std::pair<std::string, Bytes>>& files,
                                                             std::size_t vocab) {
  std::uint64_t nonce = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&nonce), sizeof nonce);
  const fs::path dir = fs::temp_directory_path() / ("fhellm-tokenizer-" + std::to_string(nonce));
  std::error_code ec;
  require(fs::create_directory(dir, ec), ErrorCode::io_error, "cannot create '" + dir.string() + "'");
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{dir};
  for (const auto& [name, bytes] : files) write_file(dir / name, bytes);
  return tokenizer::load_tokenizer(files.size() == 1 ? dir / files[0].first : dir, vocab);
}

// The tokenizer the client artifact carries, as (file name, bytes). A GGUF
// model without --tokenizer brings its own vocabulary (tokenizer.ggml.*),
// carried as tokenizer.ggml-vocab.json.
std::vector<std::pair<std::string, Bytes>> tokenizer_bundle(const fs::path& tokenizer, const fs::path& model_path,
                                                            std::size_t vocab) {
  std::vector<std::pair<std::string, Bytes>> bundle;
  if (tokenizer.empty() && model_path.extension() == ".gguf") {
    const std::string json = tokenizer::ggml_vocab_to_json(read_gguf_tokenizer_vocab(model::GgufFile(model_path)));
    bundle.emplace_back("tokenizer.ggml-vocab.json", Bytes(json.begin(), json.end()));
    return bundle;
  }
  for (const auto& [name, path] : tokenizer_files(tokenizer, model_path, vocab)) bundle.emplace_back(name, read_file(path));
  return bundle;
}

// Both public compile_artifacts: `model_path` only to find the tokenizer.
CompileReport compile_model(std::shared_ptr<const model::Model> model_ptr, const fs::path& model_path,
                            const fs::path& out_prefix, const CompileOptions& options) {
  HybridModel hm(std::move(model_ptr));
  const model::Model& model = hm.model();
  const auto tok_files = tokenizer_bundle(options.tokenizer, model_path, model.config().vocab_size);
  // Refuse a tokenizer the client could not load, or one of another model.
  check_tokenizer_matches(*load_bundled_tokenizer(tok_files, model.config().vocab_size), model,
                          options.tokenizer.empty() ? model_path.string() : options.tokenizer.string());
  hm.set_remote_modules(options.remote);
  hm.set_quantization(options.quant);
  const auto quantized =
      std::make_shared<const QuantizedLinears>(model, hm.remote_modules(), hm.quantization(), options.progress);
  std::vector<const quant::QuantizedWeights*> weights;
  for (LinearId id : quantized->ids()) weights.push_back(&quantized->get(id));
  const RemoteModelDescription description = describe_remote(model, quantized->ids(), weights, quantized->options());
  const Bytes description_bytes = description.encode();

  CompileReport report;
  report.n_remote = quantized->ids().size();
  report.server_path = out_prefix.string() + ".server";
  report.client_path = out_prefix.string() + ".client";
  {
    std::vector<std::span<const std::int8_t>> values;
    for (const quant::QuantizedWeights* q : weights) values.emplace_back(q->values);
    report.server_bytes = write_server_artifact(report.server_path, description, values);
  }
  {
    const model::ModelConfig& c = model.config();
    Bytes out;
    ByteWriter w(out);
    write_header(w, kClientMagic);
    w.u8(static_cast<std::uint8_t>(c.arch));
    w.u8(static_cast<std::uint8_t>(c.rope_style));
    w.u8(c.tied_head ? 1 : 0);
    w.u8(c.rope_scaling.enabled ? 1 : 0);
    for (std::size_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size,
                          c.context, c.rope_scaling.original_context})
      w.u32(static_cast<std::uint32_t>(v));
    for (float v : {c.norm_eps, c.rope_theta, c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
                    c.rope_scaling.high_freq_factor})
      w.f32(v);
    w.i32(c.bos_id);
    w.i32(c.eos_id);
    w.blob(description_bytes);
    // Tensors, with the remote groups' weights left out (count 0), written
    // from the model in place rather than from a copy of its weights.
    const model::ModelWeights& mw = model.weights();
    std::vector<const std::vector<float>*> remote_tensors;
    for (LinearId id : quantized->ids()) remote_tensors.push_back(linear_tensor(mw, id));
    auto write_tensor = [&](const std::vector<float>& t) {
      const bool remote = std::find(remote_tensors.begin(), remote_tensors.end(), &t) != remote_tensors.end();
      if (remote) {
        w.u32(0);
      } else {
        write_floats(w, t);
      }
    };
    write_tensor(mw.token_embedding);
    write_tensor(mw.position_embedding);
    for (const model::LayerWeights& l : mw.layers) {
      for (const std::vector<float>* t : {&l.attn_norm, &l.attn_norm_bias, &l.wqkv, &l.bqkv, &l.wo, &l.bo,
                                          &l.ffn_norm, &l.ffn_norm_bias, &l.w_up, &l.b_up, &l.w_down, &l.b_down})
        write_tensor(*t);
    }
    write_tensor(mw.final_norm);
    write_tensor(mw.final_norm_bias);
    write_tensor(mw.lm_head);
    w.u32(static_cast<std::uint32_t>(tok_files.size()));
    for (const auto& [name, bytes] : tok_files) {
      w.blob({reinterpret_cast<const std::uint8_t*>(name.data()), name.size()});
      w.blob(bytes);
    }
    finish(out);
    write_file(report.client_path, out);
    report.client_bytes = out.size();
  }
  return report;
}

}  // namespace

std::uint64_t write_server_artifact(const fs::path& path, const RemoteModelDescription& description,
                                    const std::vector<std::span<const std::int8_t>>& values) {
  require(values.size() == description.linears.size(), ErrorCode::invalid_argument,
          "server artifact: " + std::to_string(values.size()) + " weight matrices for " +
              std::to_string(description.linears.size()) + " layers");
  Bytes out;
  ByteWriter w(out);
  write_header(w, kServerMagic);
  w.blob(description.encode());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const RemoteLinearInfo& l = description.linears[i];
    require(values[i].size() == static_cast<std::size_t>(l.n_out) * l.n_in, ErrorCode::invalid_argument,
            "server artifact: layer " + std::to_string(l.wire_id) + " has " + std::to_string(values[i].size()) +
                " weights for a shape of " + std::to_string(l.n_out) + " x " + std::to_string(l.n_in));
    // A matrix held by two entries (a tied LM head is the token table) is
    // stored once: the later entry names the earlier one.
    std::size_t first = 0;
    while (first < i && !(values[first].data() == values[i].data() && values[first].size() == values[i].size()))
      ++first;
    if (first < i) {
      w.u32(static_cast<std::uint32_t>(first));
      continue;
    }
    w.u32(kOwnValues);
    w.bytes({reinterpret_cast<const std::uint8_t*>(values[i].data()), values[i].size()});
  }
  finish(out);
  write_file(path, out);
  return out.size();
}

CompileReport compile_artifacts(const fs::path& model_path, const fs::path& out_prefix,
                                const CompileOptions& options) {
  return compile_model(model::load_model(model_path), model_path, out_prefix, options);
}

CompileReport compile_artifacts(std::shared_ptr<const model::Model> model, const fs::path& out_prefix,
                                const CompileOptions& options) {
  require(!options.tokenizer.empty(), ErrorCode::invalid_argument,
          "compile of a model in memory: name its tokenizer (CompileOptions::tokenizer)");
  return compile_model(std::move(model), fs::path(), out_prefix, options);
}

namespace {

// The description and int8 weights of a server artifact (the file's bytes are
// released on return, before the weights are encoded).
RemoteModelDescription read_server_artifact(const fs::path& path, std::vector<std::vector<std::int8_t>>& values) {
  const Bytes bytes = read_file(path);
  const std::string what = "server artifact '" + path.filename().string() + "'";
  ByteReader r(checked_body(bytes, kServerMagic, what), what);
  RemoteModelDescription d = RemoteModelDescription::decode(r.blob(kMaxDescriptionBytes, "description"));
  const int q_max = (1 << (d.quant.weight_bits - 1)) - 1;
  for (const RemoteLinearInfo& l : d.linears) {
    const std::size_t n = static_cast<std::size_t>(l.n_out) * l.n_in;
    if (const std::uint32_t shared = r.u32(); shared != kOwnValues) {
      require(shared < values.size() && values[shared].size() == n &&
                  d.linears[shared].n_out == l.n_out && d.linears[shared].n_in == l.n_in,
              ErrorCode::bad_artifact,
              what + ": layer " + std::to_string(l.wire_id) + " shares the values of entry " + std::to_string(shared) +
                  ", which is not an earlier entry of its shape");
      values.push_back(values[shared]);
      continue;
    }
    const ByteView raw = r.take(n, "weights");
    std::vector<std::int8_t> v(n);
    std::memcpy(v.data(), raw.data(), n);
    // The message is built only on failure: one string per weight cost half
    // of a GPT-2 server's start-up.
    const bool in_range =
        std::all_of(v.begin(), v.end(), [q_max](std::int8_t x) { return x >= -q_max && x <= q_max; });
    if (!in_range)
      throw Error(ErrorCode::bad_artifact,
                  what + ": layer " + std::to_string(l.wire_id) + " holds a weight outside +-" + std::to_string(q_max));
    values.push_back(std::move(v));
  }
  r.expect_end();
  return d;
}

}  // namespace

std::shared_ptr<RemoteLinearService> load_server_artifact(const fs::path& path, const RemoteServiceOptions& options) {
  std::vector<std::vector<std::int8_t>> values;
  RemoteModelDescription d = read_server_artifact(path, values);
  return std::make_shared<RemoteLinearService>(std::move(d), std::move(values), options);
}

ClientArtifact load_client_artifact(const fs::path& path) {
  const std::string what = "client artifact '" + path.filename().string() + "'";
  StreamedArtifact r(path, kClientMagic, what);
  model::ModelConfig c;
  const std::uint8_t arch = r.u8(), rope_style = r.u8(), tied = r.u8(), scaling = r.u8();
  require((arch == 1 || arch == 2) && (rope_style == 1 || rope_style == 2) && tied <= 1 && scaling <= 1,
          ErrorCode::bad_artifact, what + ": config flags out of range");
  c.arch = static_cast<model::Architecture>(arch);
  c.rope_style = static_cast<model::RopeStyle>(rope_style);
  c.tied_head = tied == 1;
  c.rope_scaling.enabled = scaling == 1;
  c.dim = r.u32();
  c.hidden_dim = r.u32();
  c.n_layers = r.u32();
  c.n_heads = r.u32();
  c.n_kv_heads = r.u32();
  c.head_dim = r.u32();
  c.vocab_size = r.u32();
  c.context = r.u32();
  c.rope_scaling.original_context = r.u32();
  c.norm_eps = r.f32();
  c.rope_theta = r.f32();
  c.rope_scaling.factor = r.f32();
  c.rope_scaling.low_freq_factor = r.f32();
  c.rope_scaling.high_freq_factor = r.f32();
  c.bos_id = r.i32();
  c.eos_id = r.i32();
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(ErrorCode::bad_artifact, what + ": " + e.what());
  }
  ClientArtifact a;
  a.description_bytes = r.blob(kMaxDescriptionBytes, "description");
  a.description = RemoteModelDescription::decode(a.description_bytes);
  require(a.description.n_layers == c.n_layers && a.description.dim == c.dim && a.description.vocab == c.vocab_size,
          ErrorCode::bad_artifact, what + ": description and config disagree");
  model::ModelWeights w;
  w.token_embedding = r.floats("token_embedding");
  w.position_embedding = r.floats("position_embedding");
  w.layers.resize(c.n_layers);
  for (model::LayerWeights& l : w.layers) {
    for (std::vector<float>* t : {&l.attn_norm, &l.attn_norm_bias, &l.wqkv, &l.bqkv, &l.wo, &l.bo, &l.ffn_norm,
                                  &l.ffn_norm_bias, &l.w_up, &l.b_up, &l.w_down, &l.b_down})
      *t = r.floats("layer tensor");
  }
  w.final_norm = r.floats("final_norm");
  w.final_norm_bias = r.floats("final_norm_bias");
  w.lm_head = r.floats("lm_head");
  // The remote groups' weights stay absent: the model holds their shapes and
  // biases only, and refuses to run them locally (the execute backend routes
  // them to the server).
  std::vector<LinearId> absent;
  for (const RemoteLinearInfo& l : a.description.linears) {
    const LinearId id = linear_from_wire_id(l.wire_id);
    require(id.layer < 0 || static_cast<std::size_t>(id.layer) < c.n_layers, ErrorCode::bad_artifact,
            what + ": remote layer " + std::to_string(l.wire_id) + " outside the model");
    require(id.kind != LinearKind::position_embedding || c.arch == model::Architecture::gpt2, ErrorCode::bad_artifact,
            what + ": a remote position table for a model without one");
    a.remote.push_back(id);
    if (id.kind == LinearKind::lm_head && c.tied_head) continue;  // the token table: absent with it
    const std::vector<float>* t = linear_tensor(w, id);
    require(t != nullptr && t->empty(), ErrorCode::bad_artifact,
            what + ": remote layer " + model::linear_name(id) + " also has client weights");
    absent.push_back(id);
  }
  const std::uint32_t n_files = r.u32();
  require(n_files >= 1 && n_files <= kMaxTokenizerFiles, ErrorCode::bad_artifact,
          what + ": " + std::to_string(n_files) + " tokenizer files");
  std::vector<std::pair<std::string, Bytes>> files;
  for (std::uint32_t i = 0; i < n_files; ++i) {
    const Bytes name = r.blob(64, "tokenizer file name");
    std::string n(name.begin(), name.end());
    require(!n.empty() && n.find('/') == std::string::npos && n.find('\\') == std::string::npos && n != "." &&
                n != "..",
            ErrorCode::bad_artifact, what + ": tokenizer file name '" + n + "' is not a plain name");
    files.emplace_back(std::move(n), r.blob(kMaxTokenizerFileBytes, "tokenizer file"));
  }
  r.expect_end();
  a.model = model::Model::create(c, std::move(w), absent);
  a.tokenizer = load_bundled_tokenizer(files, c.vocab_size);
  return a;
}

}  // namespace fhellm::hybrid
