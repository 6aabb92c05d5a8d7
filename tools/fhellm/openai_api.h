// The OpenAI HTTP API as `fhellm gateway` speaks it: request bodies of
// /v1/completions and /v1/chat/completions checked and turned into an
// OpenAiRequest, and the response, stream-chunk and error objects.
// Unsupported parameters (n > 1, logprobs, echo, best_of, penalties other
// than 0, tools) are refused with an invalid_request_error naming them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat_engine.h"

namespace fhellm::cli {

using Json = nlohmann::ordered_json;

// An error the client sees as {"error": {"message", "type", "param", "code"}}.
struct OpenAiError : std::runtime_error {
  OpenAiError(int status, std::string type, std::string message, std::string param = "", std::string code = "")
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

Json error_body(const OpenAiError& e);

struct OpenAiRequest {
  bool chat = false;
  std::string prompt;  // completions
  Json messages;       // chat
  GenerateOptions generate;  // max_tokens (chat's default: kUntilContextEnd), sampling, stop
  bool stream = false, include_usage = false;
};

// @throws OpenAiError(400) naming the parameter
OpenAiRequest parse_completion_request(const Json& body);
OpenAiRequest parse_chat_request(const Json& body);

// Non-streaming responses.
Json completion_response(const std::string& id, std::int64_t created, const std::string& model,
                         const EngineResult& r, const std::string& fhe);
Json chat_response(const std::string& id, std::int64_t created, const std::string& model, const EngineResult& r,
                   const std::string& fhe);
// Streaming chunks: a piece of text (finish_reason null), the last chunk
// (empty text, its finish_reason) and, with include_usage, the usage chunk.
Json completion_chunk(const std::string& id, std::int64_t created, const std::string& model, const std::string& text,
                      const std::string& finish_reason);
Json chat_chunk(const std::string& id, std::int64_t created, const std::string& model, const Json& delta,
                const std::string& finish_reason);
Json usage_chunk(const std::string& id, std::int64_t created, const std::string& model, bool chat,
                 const EngineResult& r, const std::string& fhe);
// usage and the fhellm figures (bytes up/down, TTFT, server time).
Json usage_of(const EngineResult& r);
Json fhellm_figures(const EngineResult& r, const std::string& fhe);

}  // namespace fhellm::cli
