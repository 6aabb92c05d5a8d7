#include "math/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace fhellm::math {
namespace {

bool env_disables_simd() {
  const char* v = std::getenv("FHELLM_NO_SIMD");
  return v != nullptr && std::strcmp(v, "0") != 0 && v[0] != '\0';
}

bool env_limits_to_avx2() {
  const char* v = std::getenv("FHELLM_SIMD");
  return v != nullptr && std::strcmp(v, "avx2") == 0;
}

std::atomic<bool>& simd_enabled() {
  static std::atomic<bool> enabled{!env_disables_simd()};
  return enabled;
}

std::atomic<bool>& avx512_enabled() {
  static std::atomic<bool> enabled{!env_limits_to_avx2()};
  return enabled;
}

}  // namespace

bool cpu_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
  return has && simd_enabled().load(std::memory_order_relaxed);
}

bool cpu_has_avx512ifma() noexcept {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512ifma") && __builtin_cpu_supports("avx512vbmi");
  return has && simd_enabled().load(std::memory_order_relaxed) && avx512_enabled().load(std::memory_order_relaxed);
}

bool cpu_has_avx512vnni() noexcept {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni");
  return has && simd_enabled().load(std::memory_order_relaxed) && avx512_enabled().load(std::memory_order_relaxed);
}

void set_simd_enabled(bool enabled) noexcept { simd_enabled().store(enabled, std::memory_order_relaxed); }

void set_avx512_enabled(bool enabled) noexcept { avx512_enabled().store(enabled, std::memory_order_relaxed); }

}  // namespace fhellm::math
