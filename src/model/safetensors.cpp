#include "model/safetensors.h"

#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "fhellm/error.h"
#include "model/mapped_file.h"

namespace fhellm::model {
namespace {

constexpr std::size_t kMaxHeaderBytes = 100u << 20;

std::size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16") return 2;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

std::size_t TensorInfo::numel() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : path_(path), file_(std::make_unique<MappedFile>(path)) {
  const std::string where = "safetensors '" + path.filename().string() + "'";
  const std::size_t size = file_->size();
  require(size >= 8, ErrorCode::truncated, where + ": " + std::to_string(size) + " bytes, no 8-byte header size");
  std::uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, file_->data(), 8);  // little-endian host (x86-64)
  require(header_bytes <= size - 8, ErrorCode::truncated,
          where + ": header of " + std::to_string(header_bytes) + " bytes but only " + std::to_string(size - 8) +
              " bytes follow");
  require(header_bytes <= kMaxHeaderBytes, ErrorCode::bad_model_file,
          where + ": header of " + std::to_string(header_bytes) + " bytes exceeds the limit");
  data_start_ = 8 + static_cast<std::size_t>(header_bytes);
  const std::size_t data_bytes = size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(file_->data()) + 8,
                                   reinterpret_cast<const char*>(file_->data()) + data_start_);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::bad_model_file, where + ": header is not valid JSON (" + e.what() + ")");
  }
  require(header.is_object(), ErrorCode::bad_model_file, where + ": header is not a JSON object");
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string tw = where + " tensor '" + name + "'";
    try {
      TensorInfo info;
      info.dtype = entry.at("dtype").get<std::string>();
      for (const auto& d : entry.at("shape")) {
        const auto v = d.get<std::uint64_t>();
        require(v <= (1ull << 40), ErrorCode::bad_model_file, tw + ": dimension " + std::to_string(v) + " too large");
        info.shape.push_back(static_cast<std::size_t>(v));
      }
      const auto& offs = entry.at("data_offsets");
      require(offs.is_array() && offs.size() == 2, ErrorCode::bad_model_file, tw + ": data_offsets is not [begin, end]");
      const auto begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
      require(begin <= end && end <= data_bytes, ErrorCode::truncated,
              tw + ": data [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside the " +
                  std::to_string(data_bytes) + " data bytes");
      const std::size_t elem = dtype_size(info.dtype);
      require(elem != 0, ErrorCode::unsupported_dtype, tw + ": unknown dtype '" + info.dtype + "'");
      long double numel = 1;
      for (std::size_t d : info.shape) numel *= static_cast<long double>(d);
      require(numel * elem == static_cast<long double>(end - begin), ErrorCode::bad_model_file,
              tw + ": shape needs " + std::to_string(static_cast<double>(numel * elem)) + " bytes, offsets give " +
                  std::to_string(end - begin));
      info.offset = static_cast<std::size_t>(begin);
      info.n_bytes = static_cast<std::size_t>(end - begin);
      tensors_.emplace(name, std::move(info));
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::bad_model_file, tw + ": malformed entry (" + e.what() + ")");
    }
  }
}

std::vector<float> SafetensorsFile::read_float(const std::string& name) const {
  auto it = tensors_.find(name);
  require(it != tensors_.end(), ErrorCode::missing_tensor,
          "tensor '" + name + "' not found in '" + path_.filename().string() + "'");
  const TensorInfo& info = it->second;
  const std::uint8_t* src = file_->data() + data_start_ + info.offset;
  const std::size_t n = info.numel();
  std::vector<float> out(n);
  if (info.dtype == "F32") {
    std::memcpy(out.data(), src, n * 4);
  } else if (info.dtype == "F16") {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = half_to_float(h);
    }
  } else if (info.dtype == "BF16") {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
      std::memcpy(&out[i], &bits, 4);
    }
  } else {
    throw Error(ErrorCode::unsupported_dtype,
                "tensor '" + name + "': dtype " + info.dtype + " is not supported (F32, F16, BF16)");
  }
  return out;
}

}  // namespace fhellm::model
