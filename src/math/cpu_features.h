// Run-time CPU feature detection for picking SIMD kernels. The environment
// variable FHELLM_NO_SIMD=1 forces the portable reference kernels (tests and
// benchmarks use it to compare); FHELLM_SIMD=avx2 keeps AVX2 but not
// AVX-512, so one AVX-512 machine measures both kernel sets.
#pragma once

namespace fhellm::math {

bool cpu_has_avx2() noexcept;       // AVX2 present and not disabled
bool cpu_has_avx512ifma() noexcept; // AVX-512 F/DQ/VL/BW + IFMA present and not disabled
bool cpu_has_avx512vnni() noexcept; // AVX-512 F/BW + VNNI present and AVX-512 not disabled

// Overrides detection (for tests / benchmarks); `enabled=false` forces the
// reference kernels everywhere until called again with true.
void set_simd_enabled(bool enabled) noexcept;
// Overrides the AVX-512 kernels only (AVX2 stays where present), so tests on
// an AVX-512 machine cover the AVX2 kernels too.
void set_avx512_enabled(bool enabled) noexcept;

}  // namespace fhellm::math
