#include "chat_engine.h"

#include <algorithm>

#include "fhellm/chat/stop_scanner.h"
#include "fhellm/error.h"
#include "he/linear_layout.h"
#include "hybrid/artifact.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model_io.h"
#include "model/loader.h"
#include "net/execute_client.h"

namespace fhellm::cli {

namespace fs = std::filesystem;

struct ChatEngine::Slot {
  explicit Slot(std::shared_ptr<const model::Model> m) : hm(std::move(m)) {}
  hybrid::HybridModel hm;
  std::shared_ptr<hybrid::ExecuteStats> stats = std::make_shared<hybrid::ExecuteStats>();
  bool busy = false;
};

namespace {

// The special-token text a template writes, when the model brings no
// tokenizer_config.json: SentencePiece-style vocabularies use <s> and </s>,
// GPT-2's <|endoftext|>.
chat::SpecialTokens default_special_tokens(const model::Model& m) {
  if (m.config().arch == model::Architecture::gpt2) return {"<|endoftext|>", "<|endoftext|>", "<|endoftext|>", ""};
  return {"<s>", "</s>", "<unk>", ""};
}

chat::ChatTemplate pick_template(const std::string& option, const fs::path& model_path, const model::Model& m) {
  const chat::SpecialTokens tokens = default_special_tokens(m);
  if (!option.empty()) return chat::ChatTemplate::resolve(option, tokens);
  std::error_code ec;
  if (fs::is_directory(model_path, ec) && fs::exists(model_path / "tokenizer_config.json", ec)) {
    if (auto t = chat::ChatTemplate::from_tokenizer_config(model_path / "tokenizer_config.json")) return std::move(*t);
  }
  return chat::ChatTemplate::builtin("chatml", tokens);  // the model has none: a neutral one
}

}  // namespace

ChatEngine::ChatEngine(const ChatEngineOptions& o) : options_(o), fhe_(o.fhe) {
  const hybrid::FheMode mode = hybrid::parse_fhe_mode(o.fhe);
  require(o.sessions >= 1 && o.sessions <= 64, ErrorCode::bad_command_line, "--sessions must be in [1, 64]");
  std::optional<hybrid::ClientArtifact> artifact;
  fs::path model_path;
  if (!o.artifact.empty()) {
    require(mode == hybrid::FheMode::execute && !o.server.empty() && o.model.empty(), ErrorCode::bad_command_line,
            "--artifact NAME.client goes with --fhe execute and --server URL, without --model");
    artifact = hybrid::load_client_artifact(o.artifact);
    model_ = artifact->model;
    tokenizer_ = std::move(artifact->tokenizer);
    model_name_ = fs::path(o.artifact).stem().string();
  } else {
    require(o.server.empty() || mode == hybrid::FheMode::execute, ErrorCode::bad_command_line,
            "--server goes with --fhe execute (and --artifact)");
    model_path = o.model.empty() ? fs::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin" : fs::path(o.model);
    const fs::path tok_path =
        o.model.empty() && o.tokenizer.empty() ? fs::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin" : fs::path(o.tokenizer);
    model_ = model::load_model(model_path);
    tokenizer_ = hybrid::load_tokenizer_for(tok_path, model_path, *model_);
    model_name_ = (fs::is_directory(model_path) ? model_path.filename() : model_path.stem()).string();
  }
  template_.emplace(pick_template(o.chat_template, model_path, *model_));
  for (std::size_t i = 0; i < o.sessions; ++i) {
    auto slot = std::make_unique<Slot>(model_);
    if (artifact) {
      slot->hm.set_remote_modules(artifact->remote);
      slot->hm.set_quantization(artifact->description.quant);
    } else {
      slot->hm.set_remote_modules(o.remote);
    }
    slot->hm.set_precision(he::parse_linear_precision(o.precision));
    if (mode == hybrid::FheMode::execute) {
      net::ExecuteClientOptions eo;
      eo.server_url = o.server;
      if (artifact) eo.expected_description = std::make_shared<const hybrid::Bytes>(artifact->description_bytes);
      slot->stats = net::enable_execute(slot->hm, eo);
    }
    slot->hm.set_mode(mode);
    slots_.push_back(std::move(slot));
  }
}

ChatEngine::~ChatEngine() = default;

std::size_t ChatEngine::context() const { return model_->config().context; }

std::vector<tokenizer::TokenId> ChatEngine::encode_text(const std::string& text) const {
  return hybrid::encode_prompt(*tokenizer_, *model_, text);
}

std::vector<tokenizer::TokenId> ChatEngine::encode_chat(const nlohmann::ordered_json& messages) const {
  const std::string text = template_->apply(messages, true);
  // The template writes BOS/EOS as text: those strings are their ids, the
  // rest is encoded without an added BOS (transformers: add_special_tokens=False).
  std::vector<std::pair<std::string, tokenizer::TokenId>> specials;
  const chat::SpecialTokens& t = template_->special_tokens();
  if (!t.bos_token.empty() && tokenizer_->bos_id() >= 0) specials.emplace_back(t.bos_token, tokenizer_->bos_id());
  if (!t.eos_token.empty() && tokenizer_->eos_id() >= 0) specials.emplace_back(t.eos_token, tokenizer_->eos_id());
  std::vector<tokenizer::TokenId> ids;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t next = std::string::npos, len = 0;
    tokenizer::TokenId id = -1;
    for (const auto& [s, sid] : specials) {
      const std::size_t at = text.find(s, pos);
      if (at < next || (at == next && s.size() > len)) next = at, len = s.size(), id = sid;
    }
    const std::string segment = text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!segment.empty()) {
      const auto seg_ids = tokenizer_->encode(segment, false);
      ids.insert(ids.end(), seg_ids.begin(), seg_ids.end());
    }
    if (next == std::string::npos) break;
    ids.push_back(id);
    pos = next + len;
  }
  require(!ids.empty(), ErrorCode::invalid_argument, "the chat template gave an empty prompt");
  return ids;
}

std::unique_ptr<ChatEngine::Lease> ChatEngine::acquire() {
  std::unique_lock lock(mutex_);
  auto free_slot = [&]() -> Slot* {
    for (auto& s : slots_)
      if (!s->busy) return s.get();
    return nullptr;
  };
  Slot* slot = free_slot();
  if (!slot) {
    if (waiting_ >= options_.queue) return nullptr;
    ++waiting_;
    freed_.wait(lock, [&] { return (slot = free_slot()) != nullptr; });
    --waiting_;
  }
  slot->busy = true;
  return std::make_unique<Lease>(*this, slot);
}

void ChatEngine::release(Slot* slot) {
  {
    std::lock_guard lock(mutex_);
    slot->busy = false;
  }
  freed_.notify_one();
}

EngineResult ChatEngine::run(Lease& lease, const EngineRequest& req, const std::function<bool(const std::string&)>& on_text) {
  Slot& slot = lease.slot();
  const std::size_t context = model_->config().context;
  require(!req.prompt_ids.empty() && req.prompt_ids.size() <= context, ErrorCode::context_overflow,
          std::to_string(req.prompt_ids.size()) + " prompt tokens exceed the model's context of " + std::to_string(context));
  const std::size_t room = context - req.prompt_ids.size() + 1;
  require(req.max_tokens <= room, ErrorCode::context_overflow,
          std::to_string(req.prompt_ids.size()) + " prompt tokens + max_tokens " + std::to_string(req.max_tokens) +
              " exceed the model's context of " + std::to_string(context));
  const hybrid::ExecuteStats before = *slot.stats;
  chat::StopScanner stops(req.stop);
  tokenizer::StreamDecoder stream(*tokenizer_);
  EngineResult out;
  bool cancelled = false;
  auto emit = [&](const std::string& piece) {
    if (piece.empty() || cancelled) return;
    out.text += piece;
    if (!on_text(piece)) cancelled = true;
  };
  hybrid::GenerateOptions g;
  g.sampling = req.sampling;
  g.stop = [&](std::span<const tokenizer::TokenId>) { return stops.stopped() || cancelled; };
  const auto r = slot.hm.generate(req.prompt_ids, req.max_tokens == 0 ? room : req.max_tokens, g,
                                  [&](tokenizer::TokenId id) { emit(stops.push(stream.push(id))); });
  emit(stops.push(stream.flush()) + stops.flush());
  out.n_prompt = req.prompt_ids.size();
  out.n_completion = r.ids.size();
  out.finish_reason = r.stopped_at_eos || stops.stopped() || cancelled ? "stop" : "length";
  out.ttft_ms = r.prefill_seconds * 1e3;
  out.total_ms = (r.prefill_seconds + r.decode_seconds) * 1e3;
  const hybrid::ExecuteStats& after = *slot.stats;
  out.server_ms = (after.channel.server_seconds - before.channel.server_seconds) * 1e3;
  out.bytes_up = after.channel.bytes_up - before.channel.bytes_up;
  out.bytes_down = after.channel.bytes_down - before.channel.bytes_down;
  out.key_upload_bytes = after.key_upload_bytes - before.key_upload_bytes;
  return out;
}

}  // namespace fhellm::cli
