// fhellm::Status: an error as a value, for callers that ask for one instead
// of an exception (the try_* functions of the client and server facades, and
// the C API built on them).
//
//   fhellm::Status s = client->try_generate("Once upon a time", {}, {}, result);
//   if (!s.ok()) std::fprintf(stderr, "%s (%s)\n", s.message().c_str(), fhellm::error_code_name(s.code()).data());
#pragma once

#include <string>

#include "fhellm/error.h"

namespace fhellm {

class Status {
 public:
  Status() = default;  // success
  Status(ErrorCode code, std::string message) : ok_(false), code_(code), message_(std::move(message)) {}

  // The status of the exception being handled (call inside a catch block):
  // an Error keeps its code and message; any other exception becomes
  // internal_error with its what(); anything else internal_error.
  static Status from_current_exception() noexcept;

  bool ok() const noexcept { return ok_; }
  // Meaningful when !ok().
  ErrorCode code() const noexcept { return code_; }
  // The error's message ("<code name>: <what happened>"), empty on success.
  const std::string& message() const noexcept { return message_; }

 private:
  bool ok_ = true;
  ErrorCode code_ = ErrorCode::internal_error;
  std::string message_;
};

// Runs fn() and returns its outcome as a Status: the boundary between the
// throwing library and callers that want a value.
template <class F>
Status catch_status(F&& fn) noexcept {
  try {
    fn();
    return {};
  } catch (...) {
    return Status::from_current_exception();
  }
}

}  // namespace fhellm
