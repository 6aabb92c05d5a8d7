#include "fhellm/error.h"

namespace fhellm {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
#define FHELLM_NAME(c) \
  case ErrorCode::c:   \
    return #c;
    FHELLM_NAME(invalid_argument)
    FHELLM_NAME(out_of_range)
    FHELLM_NAME(not_implemented)
    FHELLM_NAME(io_error)
    FHELLM_NAME(file_not_found)
    FHELLM_NAME(internal_error)
    FHELLM_NAME(bad_parameters)
    FHELLM_NAME(unknown_parameter_id)
    FHELLM_NAME(parameter_mismatch)
    FHELLM_NAME(bad_magic)
    FHELLM_NAME(bad_version)
    FHELLM_NAME(truncated)
    FHELLM_NAME(length_too_large)
    FHELLM_NAME(coefficient_out_of_range)
    FHELLM_NAME(trailing_bytes)
    FHELLM_NAME(wrong_key)
    FHELLM_NAME(missing_galois_key)
    FHELLM_NAME(noise_budget_exceeded)
    FHELLM_NAME(shape_mismatch)
    FHELLM_NAME(precision_not_served)
    FHELLM_NAME(bad_quantization)
    FHELLM_NAME(bad_model_file)
    FHELLM_NAME(missing_tensor)
    FHELLM_NAME(tensor_shape_mismatch)
    FHELLM_NAME(unsupported_architecture)
    FHELLM_NAME(unsupported_dtype)
    FHELLM_NAME(bad_config)
    FHELLM_NAME(context_overflow)
    FHELLM_NAME(bad_tokenizer_file)
    FHELLM_NAME(unknown_token)
    FHELLM_NAME(bad_chat_template)
    FHELLM_NAME(chat_template_exception)
    FHELLM_NAME(tokenizer_mismatch)
    FHELLM_NAME(bad_artifact)
    FHELLM_NAME(unknown_layer)
    FHELLM_NAME(bad_mode)
    FHELLM_NAME(online_not_served)
    FHELLM_NAME(mask_reused)
    FHELLM_NAME(material_corrupt)
    FHELLM_NAME(stale_material)
    FHELLM_NAME(bad_message)
    FHELLM_NAME(message_too_large)
    FHELLM_NAME(unknown_session)
    FHELLM_NAME(replayed_message)
    FHELLM_NAME(session_limit)
    FHELLM_NAME(server_unavailable)
    FHELLM_NAME(remote_error)
    FHELLM_NAME(rate_limited)
    FHELLM_NAME(unauthorized)
    FHELLM_NAME(server_busy)
    FHELLM_NAME(bad_command_line)
    FHELLM_NAME(interrupted)
#undef FHELLM_NAME
  }
  return "unknown_error";
}

ErrorKind error_kind_of(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument:
    case ErrorCode::out_of_range:
    case ErrorCode::not_implemented:
    case ErrorCode::shape_mismatch:
    case ErrorCode::bad_mode:
    case ErrorCode::unknown_layer:
    case ErrorCode::bad_command_line:
    case ErrorCode::context_overflow:
    case ErrorCode::bad_quantization:
    case ErrorCode::chat_template_exception:
    case ErrorCode::tokenizer_mismatch:
      return ErrorKind::invalid_argument;
    case ErrorCode::io_error:
    case ErrorCode::file_not_found:
      return ErrorKind::io;
    case ErrorCode::internal_error:
      return ErrorKind::internal;
    case ErrorCode::bad_parameters:
    case ErrorCode::wrong_key:
    case ErrorCode::missing_galois_key:
    case ErrorCode::replayed_message:
    case ErrorCode::unauthorized:
    case ErrorCode::mask_reused:
    case ErrorCode::material_corrupt:
      return ErrorKind::security;
    case ErrorCode::bad_message:
    case ErrorCode::message_too_large:
    case ErrorCode::unknown_session:
    case ErrorCode::session_limit:
    case ErrorCode::server_unavailable:
    case ErrorCode::remote_error:
    case ErrorCode::rate_limited:
    case ErrorCode::precision_not_served:
    case ErrorCode::server_busy:
    case ErrorCode::online_not_served:
    case ErrorCode::stale_material:
      return ErrorKind::protocol;
    case ErrorCode::interrupted:
      return ErrorKind::interrupted;
    default:
      return ErrorKind::format;
  }
}

int exit_code_for(ErrorKind kind) noexcept {
  // 1 is left for "command-line usage" (CLI11's own), 2.. per kind.
  switch (kind) {
    case ErrorKind::invalid_argument: return 2;
    case ErrorKind::format: return 3;
    case ErrorKind::protocol: return 4;
    case ErrorKind::security: return 5;
    case ErrorKind::io: return 6;
    case ErrorKind::internal: return 7;
    case ErrorKind::interrupted: return 130;  // the shell's code for a SIGINT
  }
  return 7;
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(std::string(error_code_name(code)) + ": " + message), code_(code) {}

}  // namespace fhellm
