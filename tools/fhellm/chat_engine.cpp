#include "chat_engine.h"

#include <filesystem>

#include "fhellm/error.h"
#include "net/api_keys.h"

namespace fhellm::cli {

namespace fs = std::filesystem;

struct ChatEngine::Slot {
  explicit Slot(Client c) : client(std::move(c)) {}
  Client client;
  bool busy = false;
  std::uint64_t last_use = 0;      // ChatEngine::uses_ when last acquired (0: never)
};

namespace {

// The special-token text a template writes, when the model brings no
// tokenizer_config.json: SentencePiece-style vocabularies use <s> and </s>,
// GPT-2's <|endoftext|>.
chat::SpecialTokens default_special_tokens(const ClientModelInfo& m) {
  if (m.architecture == "gpt2") return {"<|endoftext|>", "<|endoftext|>", "<|endoftext|>", ""};
  return {"<s>", "</s>", "<unk>", ""};
}

chat::ChatTemplate pick_template(const std::string& option, const fs::path& model_path, const ClientModelInfo& m) {
  const chat::SpecialTokens tokens = default_special_tokens(m);
  if (!option.empty()) return chat::ChatTemplate::resolve(option, tokens);
  std::error_code ec;
  if (fs::is_directory(model_path, ec) && fs::exists(model_path / "tokenizer_config.json", ec)) {
    if (auto t = chat::ChatTemplate::from_tokenizer_config(model_path / "tokenizer_config.json")) return std::move(*t);
  }
  return chat::ChatTemplate::builtin("chatml", tokens);  // the model has none: a neutral one
}

ClientOptions client_options(const ChatEngineOptions& o) {
  ClientOptions c;
  if (!o.artifact.empty()) {
    require(o.fhe == "execute" && !o.server.empty() && o.model.empty(), ErrorCode::bad_command_line,
            "--artifact NAME.client goes with --fhe execute and --server URL, without --model");
    c.artifact = o.artifact;
  } else {
    require(o.server.empty() || o.fhe == "execute", ErrorCode::bad_command_line,
            "--server goes with --fhe execute (and --artifact)");
    c.model = o.model.empty() ? (fs::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin").string() : o.model;
    c.tokenizer = o.model.empty() && o.tokenizer.empty() ? (fs::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin").string()
                                                         : o.tokenizer;
    c.remote = o.remote;
  }
  c.fhe = o.fhe;
  c.server_url = o.server;
  c.precision = o.precision;
  c.api_key = net::api_key_from(o.api_key);
  c.ca_cert = o.ca_cert;
  require(!o.online || o.fhe == "execute", ErrorCode::bad_command_line, "--online goes with --fhe execute");
  require(o.online || o.precompute_rows == 0, ErrorCode::bad_command_line, "--precompute-rows goes with --online");
  c.online = o.online;
  c.online_store = o.online_store;
  c.client_key = o.client_key;
  return c;
}

}  // namespace

ChatEngine::ChatEngine(const ChatEngineOptions& o) : options_(o) {
  require(o.sessions >= 1 && o.sessions <= 64, ErrorCode::bad_command_line, "--sessions must be in [1, 64]");
  const ClientOptions c = client_options(o);
  slots_.push_back(std::make_unique<Slot>(Client(c)));
  for (std::size_t i = 1; i < o.sessions; ++i) slots_.push_back(std::make_unique<Slot>(slots_[0]->client.new_session()));
  info_ = slots_[0]->client.model_info();
  const fs::path model_path = c.model;
  if (!o.artifact.empty()) {
    model_name_ = fs::path(o.artifact).stem().string();
  } else {
    model_name_ = (fs::is_directory(model_path) ? model_path.filename() : model_path.stem()).string();
  }
  template_.emplace(pick_template(o.chat_template, model_path, info_));
  if (o.online) {
    // The first session's online session opens now (its keys are none): a
    // server without the online mode, or one that refuses the key, is found
    // at start, not at the first request.
    slots_[0]->client.prepare();
    if (o.precompute_rows > 0)
      precompute_ = std::make_unique<IdlePrecompute>(slots_[0]->client.new_session(), o.precompute_rows,
                                                     o.precompute_head_rows, [this] { return leased_.load() > 0; }, o.log);
  } else if (o.fhe == "execute") {
    // The first session opens on the server now, in the background (keys
    // made and uploaded while the user types), not in the first request's
    // time to first token. A failure here is the first request's to report.
    warm_ = std::thread([this] {
      const auto lease = acquire();
      if (lease) (void)lease->slot().client.try_prepare();
    });
  }
}

ChatEngine::~ChatEngine() {
  if (warm_.joinable()) warm_.join();
}

std::vector<std::int32_t> ChatEngine::encode_text(const std::string& text) const {
  return slots_[0]->client.tokenize(text);
}

std::vector<std::int32_t> ChatEngine::encode_chat(const nlohmann::ordered_json& messages) const {
  const std::string text = template_->apply(messages, true);
  // The template writes BOS/EOS as text: those strings are their ids, the
  // rest is encoded without an added BOS (transformers: add_special_tokens=False).
  std::vector<std::pair<std::string, std::int32_t>> specials;
  const chat::SpecialTokens& t = template_->special_tokens();
  if (!t.bos_token.empty() && info_.bos_id >= 0) specials.emplace_back(t.bos_token, info_.bos_id);
  if (!t.eos_token.empty() && info_.eos_id >= 0) specials.emplace_back(t.eos_token, info_.eos_id);
  std::vector<std::int32_t> ids;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t next = std::string::npos, len = 0;
    std::int32_t id = -1;
    for (const auto& [s, sid] : specials) {
      const std::size_t at = text.find(s, pos);
      if (at < next || (at == next && s.size() > len)) next = at, len = s.size(), id = sid;
    }
    const std::string segment = text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!segment.empty()) {
      const auto seg_ids = slots_[0]->client.tokenize(segment, false);
      ids.insert(ids.end(), seg_ids.begin(), seg_ids.end());
    }
    if (next == std::string::npos) break;
    ids.push_back(id);
    pos = next + len;
  }
  require(!ids.empty(), ErrorCode::invalid_argument, "the chat template gave an empty prompt");
  return ids;
}

std::unique_ptr<ChatEngine::Lease> ChatEngine::acquire(std::span<const std::int32_t> prompt_ids) {
  std::unique_lock lock(mutex_);
  // A free session's client runs nothing: its cache may be read here.
  const auto shared = [&](std::span<const std::int32_t> held) {
    std::size_t n = 0;
    while (n < held.size() && n < prompt_ids.size() && held[n] == prompt_ids[n]) ++n;
    return n;
  };
  auto free_slot = [&]() -> Slot* {
    Slot *continued = nullptr, *oldest = nullptr;
    std::size_t longest = 0;
    for (auto& s : slots_) {
      if (s->busy) continue;
      const std::span<const std::int32_t> held = s->client.cached_ids();
      const std::size_t n = shared(held);
      if (n > 0 && 2 * n >= held.size() && n > longest) {
        continued = s.get();
        longest = n;
      }
      if (!oldest || s->last_use < oldest->last_use) oldest = s.get();
    }
    return continued != nullptr ? continued : oldest;
  };
  Slot* slot = free_slot();
  if (!slot) {
    if (waiting_ >= options_.queue) return nullptr;
    ++waiting_;
    freed_.wait(lock, [&] { return (slot = free_slot()) != nullptr; });
    --waiting_;
  }
  slot->busy = true;
  slot->last_use = ++uses_;
  ++leased_;
  return std::make_unique<Lease>(*this, slot);
}

void ChatEngine::release(Slot* slot) {
  {
    std::lock_guard lock(mutex_);
    slot->busy = false;
  }
  freed_.notify_one();
  if (--leased_ == 0 && precompute_) precompute_->wake();
}

EngineResult ChatEngine::run(Lease& lease, const EngineRequest& req, const std::function<bool(const std::string&)>& on_text) {
  Client& client = lease.slot().client;
  GenerateOptions options = req.options;
  options.reuse_prefix = options_.prompt_cache;
  const GenerateResult r = client.generate_from_ids(req.prompt_ids, options, [&](std::string_view piece) {
    return on_text(std::string(piece));
  });
  const ClientStats& s = client.last_stats();
  EngineResult out;
  out.text = r.text;
  out.n_prompt = r.prompt_ids.size();
  out.n_cached = r.cached_prompt_tokens;
  out.n_completion = r.ids.size();
  out.finish_reason = r.stopped_at_eos || !r.stop.empty() || r.cancelled ? "stop" : "length";
  out.ttft_ms = s.ttft_ms;
  out.total_ms = s.total_ms;
  out.server_ms = s.server_ms;
  out.bytes_up = s.bytes_up;
  out.bytes_down = s.bytes_down;
  out.key_upload_bytes = s.key_bytes_up;
  out.session_key_bytes = s.session_key_bytes;
  out.online_rows = s.online_rows;
  out.fallback_rows = s.fallback_rows;
  return out;
}

}  // namespace fhellm::cli
