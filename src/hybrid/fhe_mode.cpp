#include "hybrid/fhe_mode.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::hybrid {

std::string_view fhe_mode_name(FheMode mode) {
  switch (mode) {
    case FheMode::disable: return "disable";
    case FheMode::simulate: return "simulate";
    case FheMode::execute: return "execute";
  }
  return "unknown";
}

FheMode parse_fhe_mode(std::string_view name) {
  if (name == "disable") return FheMode::disable;
  if (name == "simulate") return FheMode::simulate;
  if (name == "execute") return FheMode::execute;
  throw Error(ErrorCode::bad_mode, "unknown fhe mode '" + std::string(name) + "' (disable, simulate, execute)");
}

}  // namespace fhellm::hybrid
