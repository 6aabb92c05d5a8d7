// Read-only, bounds-checked safetensors file (memory-mapped).
//
// Layout: u64 little-endian N (header bytes), then N bytes of JSON
//   {"name": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, ...],
//             "data_offsets": [begin, end]}, ..., "__metadata__": {...}}
// then the data; offsets are relative to the byte after the header.
// Checked on open: N <= file size - 8 and <= 100 MiB; every tensor has
// begin <= end <= data size and end - begin == product(shape) * dtype size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fhellm::model {

class MappedFile;

struct TensorInfo {
  std::string dtype;                 // "F32", "F16", "BF16", ...
  std::vector<std::size_t> shape;
  std::size_t offset = 0;            // from the start of the data section
  std::size_t n_bytes = 0;
  std::size_t numel() const;
};

class SafetensorsFile {
 public:
  // @throws Error(file_not_found, bad_model_file, truncated)
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Tensor converted to float32. @throws Error(missing_tensor, unsupported_dtype)
  std::vector<float> read_float(const std::string& name) const;

 private:
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> file_;
  std::size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
};

}  // namespace fhellm::model
