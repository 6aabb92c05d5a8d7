#include "fhellm/status.h"

#include <exception>
#include <new>

namespace fhellm {

Status Status::from_current_exception() noexcept {
  try {
    throw;
  } catch (const Error& e) {
    return Status(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::internal_error, "internal_error: out of memory");
  } catch (const std::exception& e) {
    return Status(ErrorCode::internal_error, std::string("internal_error: ") + e.what());
  } catch (...) {
    return Status(ErrorCode::internal_error, "internal_error: unknown exception");
  }
}

}  // namespace fhellm
