// fhellm::Error: the one exception type of the library.
//
// Every error carries a stable ErrorCode (its number never changes once
// released; tests and the wire protocol rely on it) and a message that names
// the object and the numbers involved. Boundaries convert: the server maps an
// Error to an error reply, the CLI prints one line and exits with
// exit_code_for(kind). No secret or plaintext value ever goes in a message.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fhellm {

// Broad class of an error; decides the CLI exit code and the HTTP status.
enum class ErrorKind : std::uint8_t {
  invalid_argument = 1,  // a caller passed something out of its documented domain
  format = 2,            // a file or a serialized object is malformed
  protocol = 3,          // a network message is malformed, out of order or refused
  security = 4,          // wrong key, replay, parameters below the security floor
  io = 5,                // a file or socket could not be read or written
  internal = 6,          // a bug: an invariant of fhellm itself does not hold
  interrupted = 7,       // the user stopped the command
};

// Stable error codes. Ranges by layer so that each layer adds codes in its own
// block without touching the others: 1xx common, 2xx math/he, 3xx quant,
// 4xx model, 5xx tokenizer, 6xx hybrid, 7xx net, 8xx tools.
enum class ErrorCode : std::uint16_t {
  // 1xx common
  invalid_argument = 100,
  out_of_range = 101,
  not_implemented = 102,
  io_error = 110,
  file_not_found = 111,
  internal_error = 190,

  // 2xx math / he
  bad_parameters = 200,          // parameter set fails validation or security floor
  unknown_parameter_id = 201,
  parameter_mismatch = 202,      // object made for another parameter set
  bad_magic = 210,
  bad_version = 211,
  truncated = 212,
  length_too_large = 213,
  coefficient_out_of_range = 214,  // a coefficient >= its modulus
  trailing_bytes = 215,
  wrong_key = 220,               // key or ciphertext does not belong to this key
  missing_galois_key = 221,
  noise_budget_exceeded = 222,
  shape_mismatch = 230,          // encrypted operand has the wrong shape
  precision_not_served = 231,    // the server holds no weight encoding for this precision

  // 3xx quant
  bad_quantization = 300,

  // 4xx model
  bad_model_file = 400,
  missing_tensor = 401,
  tensor_shape_mismatch = 402,
  unsupported_architecture = 403,
  unsupported_dtype = 404,
  bad_config = 405,
  context_overflow = 406,        // more positions than the model supports

  // 5xx tokenizer
  bad_tokenizer_file = 500,
  unknown_token = 501,
  bad_chat_template = 510,        // a chat template that does not parse or fails while rendering
  chat_template_exception = 511,  // the chat template refused the conversation (its raise_exception)
  tokenizer_mismatch = 520,       // tokenizer and model disagree (vocabulary, special ids)

  // 6xx hybrid
  bad_artifact = 600,
  unknown_layer = 601,
  bad_mode = 602,
  online_not_served = 603,       // the server keeps no int8 weights for online calls (`serve --online`)
  mask_reused = 604,             // an online mask was about to be used a second time
  material_corrupt = 605,        // stored online material fails its authentication (tampered, truncated, other key)
  stale_material = 606,          // online material made for other weights than the server's

  // 7xx net
  bad_message = 700,
  message_too_large = 701,
  unknown_session = 702,
  replayed_message = 703,
  session_limit = 704,
  server_unavailable = 705,
  remote_error = 706,
  rate_limited = 707,            // a per-key budget (requests/s, rows/hour) is spent for now
  unauthorized = 708,            // no valid API key for a server that requires one
  server_busy = 709,             // the server's memory or connection budget is full for now

  // 8xx tools
  bad_command_line = 800,
  interrupted = 801,             // the user stopped the command (Ctrl-C); exit code 130
};

// Name of a code as written in docs and logs ("truncated", "bad_magic", ...).
std::string_view error_code_name(ErrorCode code) noexcept;
// Kind a code belongs to.
ErrorKind error_kind_of(ErrorCode code) noexcept;
// Process exit code the CLI uses for an error of this kind (documented in README).
int exit_code_for(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);

  ErrorCode code() const noexcept { return code_; }
  ErrorKind kind() const noexcept { return error_kind_of(code_); }

 private:
  ErrorCode code_;
};

// Throws Error(code, message) when `condition` is false. For trust
// boundaries (files, the wire, the public API), not for hot kernels.
inline void require(bool condition, ErrorCode code, const std::string& message) {
  if (!condition) throw Error(code, message);
}

}  // namespace fhellm
