// Where the tests find their data: the bundled model (models/) and
// tests/data in the repository, and ../shared (models and references too big
// to bundle) beside it. A test skips, printing the path it missed, only for
// data under ../shared.
#pragma once

#include <filesystem>

namespace fhellm::test_data {

inline std::filesystem::path source_dir() { return FHELLM_SOURCE_DIR; }
inline std::filesystem::path shared_dir() { return FHELLM_SHARED_DIR; }
// The model bundled in the repository (stories260K: a 260K-parameter Llama) and its tokenizer.
inline std::filesystem::path bundled_model() { return source_dir() / "models/stories260K.bin"; }
inline std::filesystem::path bundled_tokenizer() { return source_dir() / "models/tok512.bin"; }
// tests/data/<name>: reference outputs for the bundled model (tests/data/README.md).
inline std::filesystem::path file(const char* name) { return source_dir() / "tests/data" / name; }

}  // namespace fhellm::test_data
