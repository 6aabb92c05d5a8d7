// How the remote linear layers run (Concrete ML's fhe= argument):
//   disable  : clear float32 product (reference accuracy, fastest)
//   simulate : the exact integer arithmetic of the encrypted path, in clear
//   execute  : encrypted, on a server (in-process or remote)
#pragma once

#include <cstdint>
#include <string_view>

namespace fhellm::hybrid {

enum class FheMode : std::uint8_t { disable = 0, simulate = 1, execute = 2 };

std::string_view fhe_mode_name(FheMode mode);
// @throws Error(bad_mode) for anything but "disable", "simulate", "execute"
FheMode parse_fhe_mode(std::string_view name);

}  // namespace fhellm::hybrid
