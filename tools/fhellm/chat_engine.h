// ChatEngine: what `fhellm gateway` and `fhellm chat` generate with. It
// opens the model once as an fhellm::Client (a client artifact with a server
// URL, or a model with the server in this process) and holds a fixed number
// of sessions: that Client and its new_session()s, each with its own execute
// session and keys, over the one loaded model; a request takes a free
// session or waits in a bounded queue.
//
// Prompts: plain text as `fhellm generate` encodes it (same ids, so the same
// tokens for the same seed), or a conversation rendered with the model's chat
// template (or --chat-template) and encoded as transformers does after
// apply_chat_template: the template writes the special tokens (BOS, EOS) as
// text, which map to their ids; no BOS is added.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "fhellm/client.h"
#include "idle_precompute.h"

namespace fhellm::cli {

struct ChatEngineOptions {
  std::string model, tokenizer, artifact, server;
  std::string fhe = "execute", remote = "all-linear", precision = "default";
  std::string chat_template;  // NAME|FILE; empty: the model's own, else chatml
  std::size_t sessions = 1;   // generations at once
  std::size_t queue = 8;      // requests that may wait for a session
  // Each session keeps its last generation's KV cache and runs only what a
  // request's prompt adds to it (GenerateOptions::reuse_prefix): a chat's
  // next turn computes its new message, not the whole history again.
  bool prompt_cache = true;
  // execute: the server's API key (empty: FHELLM_API_KEY, else none) and a PEM
  // CA file to trust for an https:// server besides the system's.
  std::string api_key, ca_cert;
  // execute, online mode (docs/online.md): rows on precomputed masks (clear
  // products on a `serve --online` server, exact), the others encrypted.
  bool online = false;
  std::string online_store, client_key;  // empty: the defaults of ClientOptions
  // online: while no request runs, keep every remote group topped up to this
  // many rows (the LM head to precompute_head_rows; 0: the same), stopping
  // between two batches when a request comes (0: no background precompute).
  std::size_t precompute_rows = 0, precompute_head_rows = 0;
  // Where the background precompute says what it did (null: nowhere).
  std::function<void(const std::string&)> log;
};

struct EngineRequest {
  std::vector<std::int32_t> prompt_ids;
  GenerateOptions options;  // max_tokens (kUntilContextEnd: until end of text or of the context), sampling, stop
};

struct EngineResult {
  std::string text;
  std::size_t n_prompt = 0, n_completion = 0;
  std::size_t n_cached = 0;  // prompt tokens taken from the session's cache (prompt_cache)
  std::string finish_reason;  // "stop" (end of text, a stop string, or stopped) or "length"
  double ttft_ms = 0, total_ms = 0, server_ms = 0;
  std::uint64_t bytes_up = 0, bytes_down = 0;
  std::uint64_t key_upload_bytes = 0;  // when this request opened its session
  std::uint64_t session_key_bytes = 0;  // the session's evaluation keys, whenever they were uploaded
  // online: remote rows on precomputed masks, and the rows that went
  // encrypted for want of them
  std::uint64_t online_rows = 0, fallback_rows = 0;
};

class ChatEngine {
 public:
  // @throws the loaders' errors, Error(bad_command_line) for inconsistent options
  explicit ChatEngine(const ChatEngineOptions& options);
  ~ChatEngine();

  const std::string& model_name() const { return model_name_; }
  const std::string& fhe() const { return options_.fhe; }
  bool online() const { return options_.online; }
  std::size_t context() const { return info_.context; }
  const chat::ChatTemplate& chat_template() const { return *template_; }

  // `fhellm generate`'s prompt ids for `text`.
  std::vector<std::int32_t> encode_text(const std::string& text) const;
  // The conversation through the chat template, then its ids.
  // @throws Error(chat_template_exception, bad_chat_template, invalid_argument)
  std::vector<std::int32_t> encode_chat(const nlohmann::ordered_json& messages) const;

  // A session, or null when `queue` requests already wait for one. Among the
  // free sessions, one whose cache this prompt continues (it repeats at least
  // half of what the session last saw: the next turn of its conversation),
  // the longest such prefix first; else the one used least recently, so a new
  // conversation does not evict another's history (llama.cpp's slot choice).
  class Lease;
  std::unique_ptr<Lease> acquire(std::span<const std::int32_t> prompt_ids = {});

  // Generates on the lease's session; on_text gets each piece of text (stop
  // strings held back and never shown); returning false stops after it.
  // @throws Error(context_overflow) and the generation's errors
  EngineResult run(Lease& lease, const EngineRequest& request, const std::function<bool(const std::string&)>& on_text);

 private:
  struct Slot;
  void release(Slot* slot);

  ChatEngineOptions options_;
  std::string model_name_;
  std::vector<std::unique_ptr<Slot>> slots_;  // slots_[0]'s Client also tokenizes (thread-safe)
  ClientModelInfo info_;
  std::optional<chat::ChatTemplate> template_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::size_t waiting_ = 0;
  std::uint64_t uses_ = 0;  // acquisitions so far: each slot's last one orders them
  std::atomic<std::size_t> leased_{0};  // sessions in use (the background precompute yields to them)
  std::unique_ptr<IdlePrecompute> precompute_;  // last but one: stopped first
  std::thread warm_;  // opens the first session's server session at start (joined by the destructor)
};

class ChatEngine::Lease {
 public:
  Lease(ChatEngine& engine, Slot* slot) : engine_(engine), slot_(slot) {}
  ~Lease() { engine_.release(slot_); }
  Slot& slot() { return *slot_; }

 private:
  ChatEngine& engine_;
  Slot* slot_;
};

}  // namespace fhellm::cli
