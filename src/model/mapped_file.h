// Read-only memory map of a whole file (internal to the loaders).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace fhellm::model {

class MappedFile {
 public:
  // @throws Error(file_not_found, io_error)
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace fhellm::model
