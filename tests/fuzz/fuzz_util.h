// Helpers of the libFuzzer harnesses (tests/fuzz/*_fuzzer.cpp).
//
// A harness feeds the bytes to one reader of untrusted input and lets
// fhellm::Error pass (the documented refusal); anything else that escapes,
// or any crash, leak or undefined behaviour the sanitizers see, is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fhellm/error.h"

namespace fhellm::fuzz {

// Runs `f`; fhellm::Error is an accepted outcome, any other exception aborts
// (libFuzzer then saves the input).
template <class F>
void expect_only_fhellm_errors(F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped as a non-fhellm exception: %s\n", e.what());
    std::abort();
  }
}

// Writes the input to `name` in a directory of this process (readers that
// take a path); returns its path.
inline std::filesystem::path write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("fhellm-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace fhellm::fuzz
