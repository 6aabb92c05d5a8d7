// Writes the fuzzers' seed corpus: one small, valid input (or a few) per
// reader, so that fuzzing starts from the formats' real structure. Run by
// hand when a format changes:  build-asan/fuzz/fhellm_fuzz_make_corpus tests/fuzz/corpus
// Inputs larger than 64 KB are cut to 64 KB (their headers are what the
// mutations reach; the full-size cases are in the unit tests).
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "chat/chat_template.h"
#include "fuzz/online_fixture.h"
#include "he/linear.h"
#include "he/lookup.h"
#include "hybrid/artifact.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/online_wire.h"
#include "model/loader.h"
#include "net/api_keys.h"
#include "net/message.h"
#include "model/gguf_writer.h"

namespace fs = std::filesystem;
using namespace fhellm;

namespace {

fs::path g_root;

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void put(const std::string& fuzzer, const std::string& name, const std::vector<std::uint8_t>& bytes,
         std::size_t cut = 64 * 1024) {
  fs::create_directories(g_root / fuzzer);
  std::ofstream out(g_root / fuzzer / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(std::min(cut, bytes.size())));
  std::printf("%s/%s: %zu bytes\n", fuzzer.c_str(), name.c_str(), std::min(cut, bytes.size()));
}
void put(const std::string& fuzzer, const std::string& name, const std::string& text) {
  put(fuzzer, name, std::vector<std::uint8_t>(text.begin(), text.end()));
}
std::vector<std::uint8_t> tagged(std::uint8_t tag, const std::vector<std::uint8_t>& bytes) {
  std::vector<std::uint8_t> out{tag};
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

// A 1-layer Llama small enough for a seed (vocab 512: the bundled tokenizer).
model::ModelConfig tiny_config() {
  model::ModelConfig c;
  c.arch = model::Architecture::llama;
  c.dim = 8;
  c.hidden_dim = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 512;
  c.context = 8;
  return c;
}

void messages_and_frames() {
  const std::uint32_t ids[] = {hybrid::linear_wire_id({0, hybrid::LinearKind::qkv})};
  hybrid::HybridModel hm(model::random_model(tiny_config(), 1));
  const Bytes description = hybrid::make_remote_service(hm)->description();
  const Bytes key(8, 7);
  const std::vector<std::pair<std::string, Bytes>> frames = {
      {"open", net::encode_frame({net::MessageType::open_session, 0, 1}, net::encode_open_session(key))},
      {"open_digest", net::encode_frame({net::MessageType::open_session, 0, 1},
                                        net::encode_open_session(key, net::description_digest(description)))},
      {"open_reply", net::encode_frame({net::MessageType::open_session_reply, 9, 1},
                                       net::encode_open_session_reply(5, description))},
      {"call", net::encode_frame({net::MessageType::linear_call, 9, 2}, net::encode_linear_call(ids, Bytes{1, 2}))},
      {"call_reply", net::encode_frame({net::MessageType::linear_call_reply, 9, 2},
                                       net::encode_linear_call_reply(5, Bytes{3, 4}))},
      {"close", net::encode_frame({net::MessageType::close_session, 9, 3}, {})},
      {"error", net::encode_frame({net::MessageType::error_reply, 9, 3},
                                  net::encode_error_reply(ErrorCode::rate_limited, "slow down"))},
  };
  for (const auto& [name, f] : frames) put("net_message", name, f);
  put("net_message", "description", description);
  // The server's handler: open, call, close as one u16-length-prefixed series.
  Bytes series;
  for (const char* name : {"open", "call", "close"}) {
    for (const auto& [n, f] : frames) {
      if (n != name) continue;
      series.push_back(static_cast<std::uint8_t>(f.size()));
      series.push_back(static_cast<std::uint8_t>(f.size() >> 8));
      series.insert(series.end(), f.begin(), f.end());
    }
  }
  put("server_frame", "open_call_close", series);
}

void linear() {
  const he::LinearClient client({he::ParamId::n2048_q54});
  const std::vector<std::uint8_t> keys = client.server_keys().save();
  put("session_keys", "n2048_cut", keys);
  // A whole bundle small enough to keep: one packing Galois key, the
  // encryption of zero, the lookup's square key, no input-side or
  // shared-mask key (parsed in full, then refused for the missing elements).
  {
    he::LinearSessionKeys k = he::LinearServerKeys::load(keys).get(he::ParamId::n2048_q54);
    const auto& ctx = *k.context;
    const std::uint64_t one[] = {he::packing_galois_elements(ctx.poly_degree()).front()};
    k.galois = he::make_galois_keys(ctx, he::SecretKey::generate(ctx), one, he::linear_decomposition_bits(k.context->param_id()));
    k.galois_input = {};
    k.galois_sequential = {};
    k.input_hoisted.reset();
    k.shared_mask.reset();
    he::LinearServerKeys small;
    small.insert(std::move(k));
    put("session_keys", "n2048_one_key", small.save(), 256 * 1024);
  }
  // The container alone: a set whose sections are all empty.
  put("session_keys", "empty_sections",
      std::vector<std::uint8_t>{'F', 'H', 'L', 'K', he::kLinearFormatVersion, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0, 0, 0});
  std::vector<std::int8_t> w(64 * 64);
  std::mt19937 rng(1);
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  const he::LinearPrecision both[] = {he::LinearPrecision::exact, he::LinearPrecision::standard};
  const he::EncodedWeights weights(w, 64, 64, both);
  const he::LinearServerKeys server_keys = he::LinearServerKeys::load(keys);
  const std::vector<std::uint8_t> x(64, 5);
  for (auto precision : {he::LinearPrecision::exact, he::LinearPrecision::standard}) {
    const std::string p = precision == he::LinearPrecision::exact ? "exact" : "standard";
    const auto upload = client.encrypt(std::span<const std::uint8_t>(x), {1, 64, 64}, precision);
    put("linear_upload", "64x64_" + p, upload);
    put("linear_reply", "64x64_" + p, he::linear_evaluate(upload, weights, server_keys, 1));
  }
  // The embedding lookup: the lookup fuzzer's table (4100 x 8, three chunks)
  // and a 512-row one (one chunk: no select record).
  for (std::uint32_t rows : {4100u, 512u}) {
    std::vector<std::int8_t> values(std::size_t{rows} * 8);
    for (auto& v : values) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
    const he::EncodedTable table(values, rows, 8);
    const std::vector<std::uint32_t> ids = {0, rows - 1};
    const auto upload = client.encrypt_lookup(ids, {2, rows, 8});
    put("lookup_upload", std::to_string(rows) + "x8", upload);
    put("lookup_reply", std::to_string(rows) + "x8", he::lookup_evaluate(upload, table, server_keys, 1));
  }
}

// The online payloads, tagged by the reader the online_wire harness picks:
// 0 the info query, 1 masked rows (for the harness's layer), 2 the info,
// 3 a result of kOnlineRows rows.
void online() {
  const hybrid::OnlineService service = fuzz::online_service();
  const Bytes query = hybrid::online::encode_online_query();
  const Bytes info = service.info(query);
  const hybrid::online::OnlineLayerInfo layer = hybrid::online::decode_online_info(info).at(0);
  hybrid::online::OnlineRows rows;
  rows.rows = fuzz::kOnlineRows;
  rows.k = layer.k;
  rows.n = layer.n;
  rows.p = layer.p;
  rows.digest = layer.digest;
  rows.values.resize(std::size_t{rows.rows} * rows.k);
  std::mt19937 rng(2);
  for (auto& v : rows.values) v = static_cast<std::uint32_t>(rng() % rows.p);
  const Bytes masked = hybrid::online::encode_online_rows(rows);
  put("online_wire", "query", tagged(0, query));
  put("online_wire", "rows", tagged(1, masked));
  put("online_wire", "info", tagged(2, info));
  put("online_wire", "result", tagged(3, service.call(fuzz::kOnlineWire, masked, 1)));
}

void artifacts_and_models(const fs::path& source, const fs::path& scratch) {
  hybrid::CompileOptions o;
  o.tokenizer = source / "models" / "tok512.bin";
  const auto report = hybrid::compile_artifacts(model::random_model(tiny_config(), 1), scratch / "tiny", o);
  put("artifact", "tiny_server", tagged(1, read_all(report.server_path)));
  put("artifact", "tiny_client", tagged(0, read_all(report.client_path)));

  put("tokenizer", "llama2c_tok512", tagged(1, read_all(source / "models" / "tok512.bin")));
  put("tokenizer", "byte_bpe_json",
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120a": 4},)"
      R"( "merges": ["a b", "\u0120 a"]}, "pre_tokenizer": {"type": "ByteLevel"}, "added_tokens": []})");
  put("tokenizer", "metaspace_json",
      R"({"model": {"type": "BPE", "vocab": {"<unk>": 0, "\u2581": 1, "a": 2, "\u2581a": 3, "<0x41>": 4},)"
      R"( "merges": ["\u2581 a"], "byte_fallback": true}, "decoder": {"type": "Sequence"},)"
      R"( "normalizer": {"type": "Sequence"}, "added_tokens": []})");
  // A SentencePiece model trained on a few sentences.
  const fs::path text = scratch / "sp.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 50; ++i) out << "Once upon a time there was a little cat who liked fish number " << i << ".\n";
  }
  const auto status = sentencepiece::SentencePieceTrainer::Train("--input=" + text.string() + " --model_prefix=" +
                                                                 (scratch / "sp").string() +
                                                                 " --vocab_size=60 --model_type=bpe --minloglevel=2"
                                                                 " --normalization_rule_name=identity");
  if (status.ok()) {
    put("tokenizer", "sentencepiece_model", tagged(2, read_all(scratch / "sp.model")));
  } else {
    std::printf("sentencepiece training failed: %s\n", status.ToString().c_str());
  }

  // A tiny GGUF: the Llama above with a vocabulary.
  model::testing::GgufWriter g;
  const model::ModelConfig c = tiny_config();
  g.add_string("general.architecture", "llama");
  g.add_u32("llama.context_length", static_cast<std::uint32_t>(c.context));
  g.add_u32("llama.embedding_length", static_cast<std::uint32_t>(c.dim));
  g.add_u32("llama.block_count", 1);
  g.add_u32("llama.feed_forward_length", static_cast<std::uint32_t>(c.hidden_dim));
  g.add_u32("llama.attention.head_count", 2);
  g.add_u32("llama.attention.head_count_kv", 2);
  g.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (int i = 0; i < 16; ++i) {
    tokens.push_back(i < 3 ? "<s" + std::to_string(i) + ">" : std::string(1, static_cast<char>('a' + i)));
    scores.push_back(-static_cast<float>(i));
    types.push_back(i < 3 ? 3 : 1);
  }
  g.add_string("tokenizer.ggml.model", "llama");
  g.add_strings("tokenizer.ggml.tokens", tokens);
  g.add_f32s("tokenizer.ggml.scores", scores);
  g.add_i32s("tokenizer.ggml.token_type", types);
  const std::uint64_t d = 8, h = 16, v = 16;
  auto tensor = [&](const std::string& name, std::vector<std::uint64_t> ne) {
    std::size_t n = 1;
    for (auto e : ne) n *= e;
    g.add_tensor(name, ne, ne.size() == 1 ? model::testing::WriterType::f32 : model::testing::WriterType::f16,
                 std::vector<float>(n, 0.25f));
  };
  tensor("token_embd.weight", {d, v});
  for (const char* n : {"attn_norm", "ffn_norm"}) tensor(std::string("blk.0.") + n + ".weight", {d});
  for (const char* n : {"attn_q", "attn_k", "attn_v"}) tensor(std::string("blk.0.") + n + ".weight", {d, d});
  tensor("blk.0.attn_output.weight", {d, d});
  tensor("blk.0.ffn_gate.weight", {d, h});
  tensor("blk.0.ffn_up.weight", {d, h});
  tensor("blk.0.ffn_down.weight", {h, d});
  tensor("output_norm.weight", {d});
  put("gguf", "tiny_llama", g.bytes());

  // safetensors: two tensors, F32 and F16.
  std::string header = R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},)"
                       R"( "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]}, "__metadata__": {}})";
  while (header.size() % 8) header += ' ';
  std::string st(8, '\0');
  for (int i = 0; i < 8; ++i) st[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  st += header + std::string(22, '\x01');
  put("safetensors", "two_tensors", st);

  put("config_json", "gpt2",
      R"({"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 32})");
  put("config_json", "llama3",
      R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,)"
      R"( "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 64,)"
      R"( "rope_scaling": {"rope_type": "llama3", "factor": 8.0}, "eos_token_id": [1, 2]})");
  net::ApiKeyStore keys;
  keys.add("alice", {2, 5, 1000});
  keys.add("bob", {});
  put("api_keys", "two_keys", keys.serialize());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 1;
  }
  g_root = argv[1];
  const fs::path scratch = fs::temp_directory_path() / "fhellm-make-corpus";
  fs::create_directories(scratch);
  messages_and_frames();
  linear();
  online();
  // Every built-in chat template (the real ones of their model families).
  for (const std::string& name : chat::ChatTemplate::builtin_names())
    put("chat_template", name, chat::ChatTemplate::builtin_source(name));
  artifacts_and_models(FHELLM_SOURCE_DIR, scratch);
  fs::remove_all(scratch);
  return 0;
}
