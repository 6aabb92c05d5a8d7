#include "openai_api.h"

#include <cmath>

namespace fhellm::cli {
namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw OpenAiError(400, "invalid_request_error", message, param);
}

double number(const Json& body, const char* key, double fallback, double lo, double hi) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number()) bad(key, std::string("'") + key + "' must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    bad(key, std::string("'") + key + "' is " + it->dump() + ", outside [" + Json(lo).dump() + ", " + Json(hi).dump() + "]");
  }
  return v;
}

// The parameters both endpoints share.
void parse_common(const Json& body, OpenAiRequest& r) {
  if (!body.is_object()) throw OpenAiError(400, "invalid_request_error", "the request body must be a JSON object");
  GenerateOptions& g = r.generate;
  g.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
  g.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
  if (g.top_p <= 0.0f) g.top_p = 1e-6f;  // 0: the most likely token only
  g.seed = static_cast<std::uint64_t>(static_cast<std::int64_t>(number(body, "seed", 0, -9.2e18, 9.2e18)));
  if (number(body, "n", 1, 1, 128) != 1) bad("n", "only n = 1 is supported");
  for (const char* p : {"frequency_penalty", "presence_penalty"})
    if (number(body, p, 0, -2, 2) != 0) bad(p, std::string("'") + p + "' is not supported (only 0)");
  for (const char* p : {"logprobs", "top_logprobs", "echo", "best_of", "tools", "functions", "logit_bias", "suffix"}) {
    const auto it = body.find(p);
    if (it != body.end() && !it->is_null() && *it != false && !(it->is_number() && *it == 0) &&
        !(it->is_number() && std::string(p) == "best_of" && *it == 1)) {
      bad(p, std::string("'") + p + "' is not supported by this gateway");
    }
  }
  if (const auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      g.stop.push_back(it->get<std::string>());
    } else if (it->is_array() && it->size() <= 4) {
      for (const auto& s : *it) {
        if (!s.is_string()) bad("stop", "'stop' must be a string or an array of at most 4 strings");
        g.stop.push_back(s.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of at most 4 strings");
    }
  }
  const auto stream = body.find("stream");
  if (stream != body.end() && !stream->is_null()) {
    if (!stream->is_boolean()) bad("stream", "'stream' must be a boolean");
    r.stream = stream->get<bool>();
  }
  if (const auto so = body.find("stream_options"); so != body.end() && so->is_object())
    r.include_usage = so->value("include_usage", false);
}

std::size_t max_tokens(const Json& body, const char* key, std::size_t fallback) {
  return static_cast<std::size_t>(number(body, key, static_cast<double>(fallback), 0, 1e9));
}

}  // namespace

Json error_body(const OpenAiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? Json(nullptr) : Json(e.param)},
            {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}}}};
}

OpenAiRequest parse_completion_request(const Json& body) {
  OpenAiRequest r;
  parse_common(body, r);
  const auto p = body.find("prompt");
  if (p == body.end() || p->is_null()) bad("prompt", "'prompt' is required");
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r.prompt = (*p)[0].get<std::string>();
  } else {
    bad("prompt", "'prompt' must be a string (or an array of one string)");
  }
  r.generate.max_tokens = max_tokens(body, "max_tokens", 16);  // the OpenAI default for completions
  if (r.generate.max_tokens == 0) bad("max_tokens", "'max_tokens' must be at least 1");
  return r;
}

OpenAiRequest parse_chat_request(const Json& body) {
  OpenAiRequest r;
  r.chat = true;
  parse_common(body, r);
  const auto m = body.find("messages");
  if (m == body.end() || !m->is_array() || m->empty()) bad("messages", "'messages' must be a non-empty array");
  r.messages = Json::array();
  for (const auto& msg : *m) {
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
      bad("messages", "each message needs a string 'role'");
    Json out = msg;
    // Content parts [{"type": "text", "text": ...}] become one string.
    if (msg.contains("content") && msg["content"].is_array()) {
      std::string text;
      for (const auto& part : msg["content"]) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text"))
          bad("messages", "only text content parts are supported");
        text += part["text"].get<std::string>();
      }
      out["content"] = text;
    } else if (!msg.contains("content") || msg["content"].is_null()) {
      out["content"] = "";
    } else if (!msg["content"].is_string()) {
      bad("messages", "'content' must be a string or an array of text parts");
    }
    r.messages.push_back(out);
  }
  const std::size_t n = max_tokens(body, "max_completion_tokens", max_tokens(body, "max_tokens", 0));
  r.generate.max_tokens = n == 0 ? kUntilContextEnd : n;  // chat's default: until end of text or context
  return r;
}

Json usage_of(const EngineResult& r) {
  // OpenAI's prompt_tokens_details.cached_tokens: the prompt tokens the
  // session's cache already held (ChatEngineOptions::prompt_cache).
  return {{"prompt_tokens", r.n_prompt},
          {"completion_tokens", r.n_completion},
          {"total_tokens", r.n_prompt + r.n_completion},
          {"prompt_tokens_details", {{"cached_tokens", r.n_cached}}}};
}

Json fhellm_figures(const EngineResult& r, const std::string& fhe) {
  Json j = {{"fhe", fhe},
            {"bytes_up", r.bytes_up},
            {"bytes_down", r.bytes_down},
            {"key_upload_bytes", r.key_upload_bytes},
            {"session_key_bytes", r.session_key_bytes},
            {"ttft_ms", r.ttft_ms},
            {"total_ms", r.total_ms},
            {"server_ms", r.server_ms}};
  if (r.online_rows + r.fallback_rows > 0) {  // the online mode: where the remote rows went
    j["online_rows"] = r.online_rows;
    j["fallback_rows"] = r.fallback_rows;
  }
  return j;
}

Json completion_response(const std::string& id, std::int64_t created, const std::string& model, const EngineResult& r,
                         const std::string& fhe) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({{{"text", r.text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", r.finish_reason}}})},
          {"usage", usage_of(r)},
          {"fhellm", fhellm_figures(r, fhe)}};
}

Json chat_response(const std::string& id, std::int64_t created, const std::string& model, const EngineResult& r,
                   const std::string& fhe) {
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", r.text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", r.finish_reason}}})},
          {"usage", usage_of(r)},
          {"fhellm", fhellm_figures(r, fhe)}};
}

Json completion_chunk(const std::string& id, std::int64_t created, const std::string& model, const std::string& text,
                      const std::string& finish_reason) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({{{"text", text},
                                    {"index", 0},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason.empty() ? Json(nullptr) : Json(finish_reason)}}})}};
}

Json chat_chunk(const std::string& id, std::int64_t created, const std::string& model, const Json& delta,
                const std::string& finish_reason) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({{{"index", 0},
                                    {"delta", delta},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason.empty() ? Json(nullptr) : Json(finish_reason)}}})}};
}

Json usage_chunk(const std::string& id, std::int64_t created, const std::string& model, bool chat, const EngineResult& r,
                 const std::string& fhe) {
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array()},
          {"usage", usage_of(r)},
          {"fhellm", fhellm_figures(r, fhe)}};
}

}  // namespace fhellm::cli
