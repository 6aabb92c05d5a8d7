// Reading tokenizer files whole, with a size limit.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace fhellm::tokenizer::detail {

// No tokenizer file fhellm reads is anywhere near this (Llama 3's
// tokenizer.json is 9 MB); a larger one is refused before allocating.
inline constexpr std::size_t kMaxTokenizerFileBytes = std::size_t{256} << 20;

// Whole file as bytes. @throws Error(file_not_found, io_error, bad_tokenizer_file)
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace fhellm::tokenizer::detail
