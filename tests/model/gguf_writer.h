// A small GGUF writer for tests only (layout in model/gguf.h): lets
// the tests build GGUF files, including deliberately broken ones, without
// any GGUF in ../shared. Written independently of the reader: its own fp16
// rounding and Q8_0 / Q4_0 quantizers, and it reports the values the reader
// must give back.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace fhellm::model::testing {

// A path in this process's scratch folder under the build tree, which is
// removed at exit (ctest runs tests in parallel processes: each gets its own).
inline std::filesystem::path scratch_path(const std::string& name) {
  struct Root {
    std::filesystem::path path =
        std::filesystem::path(FHELLM_BINARY_DIR) / "test_tmp" / ("gguf_" + std::to_string(::getpid()));
    Root() { std::filesystem::create_directories(path); }
    ~Root() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Root root;
  return root.path / name;
}

// float -> IEEE half, round to nearest even; normal and zero values only
// (tests keep weights in [-8, 8], well inside the normal range, or zero).
inline std::uint16_t to_half(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const std::uint32_t sign = (bits >> 16) & 0x8000;
  const float a = std::fabs(x);
  if (a < 6.2e-5f) return static_cast<std::uint16_t>(sign);  // flush tiny values to zero
  const int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
  std::uint32_t mant = bits & 0x7FFFFF;
  std::uint32_t half = static_cast<std::uint32_t>(exp) << 10 | mant >> 13;
  const std::uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // carries into the exponent correctly
  return static_cast<std::uint16_t>(sign | half);
}

inline float from_half(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1F;
  const std::uint32_t mant = h & 0x3FF;
  const std::uint32_t bits = exp == 0 && mant == 0 ? sign : sign | (exp + 112) << 23 | mant << 13;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

enum class WriterType : std::uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8 };

class GgufWriter {
 public:
  explicit GgufWriter(std::uint32_t version = 3, std::uint32_t alignment = 32)
      : version_(version), alignment_(alignment) {}

  void add_u32(const std::string& key, std::uint32_t v) { kv_header(key, 4), pod(kv_, v), ++n_kv_; }
  void add_i32(const std::string& key, std::int32_t v) { kv_header(key, 5), pod(kv_, v), ++n_kv_; }
  void add_f32(const std::string& key, float v) { kv_header(key, 6), pod(kv_, v), ++n_kv_; }
  void add_bool(const std::string& key, bool v) { kv_header(key, 7), pod(kv_, std::uint8_t{v}), ++n_kv_; }
  void add_u64(const std::string& key, std::uint64_t v) { kv_header(key, 10), pod(kv_, v), ++n_kv_; }
  void add_string(const std::string& key, const std::string& v) { kv_header(key, 8), str(kv_, v), ++n_kv_; }
  void add_strings(const std::string& key, const std::vector<std::string>& v) {
    kv_header(key, 9), pod(kv_, std::uint32_t{8}), pod(kv_, std::uint64_t{v.size()});
    for (const auto& s : v) str(kv_, s);
    ++n_kv_;
  }
  void add_f32s(const std::string& key, const std::vector<float>& v) {
    kv_header(key, 9), pod(kv_, std::uint32_t{6}), pod(kv_, std::uint64_t{v.size()});
    for (float x : v) pod(kv_, x);
    ++n_kv_;
  }
  void add_i32s(const std::string& key, const std::vector<std::int32_t>& v) {
    kv_header(key, 9), pod(kv_, std::uint32_t{5}), pod(kv_, std::uint64_t{v.size()});
    for (auto x : v) pod(kv_, x);
    ++n_kv_;
  }
  // Raw bytes appended to the metadata section (for hostile files).
  void add_raw_kv(const std::string& bytes, std::uint64_t count_as = 1) { kv_ += bytes, n_kv_ += count_as; }

  // Adds a tensor with ggml dims `ne` (fastest first) and returns the values
  // a correct reader gives back (rounded / quantized as stored).
  std::vector<float> add_tensor(const std::string& name, const std::vector<std::uint64_t>& ne, WriterType type,
                                const std::vector<float>& values) {
    std::string data;
    std::vector<float> stored(values.size());
    if (type == WriterType::f32) {
      for (float x : values) pod(data, x);
      stored = values;
    } else if (type == WriterType::f16) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint16_t h = to_half(values[i]);
        pod(data, h);
        stored[i] = from_half(h);
      }
    } else {
      for (std::size_t b = 0; b < values.size() / 32; ++b) {
        float amax = 0, signed_max = 0;
        for (std::size_t k = 0; k < 32; ++k) {
          const float x = values[b * 32 + k];
          if (std::fabs(x) > amax) amax = std::fabs(x), signed_max = x;
        }
        if (type == WriterType::q8_0) {
          const std::uint16_t dh = to_half(amax / 127.0f);
          const float d = from_half(dh);
          pod(data, dh);
          for (std::size_t k = 0; k < 32; ++k) {
            const float x = values[b * 32 + k];
            const int q = d == 0 ? 0 : std::max(-127, std::min(127, static_cast<int>(std::lround(x / d))));
            pod(data, static_cast<std::int8_t>(q));
            stored[b * 32 + k] = d * static_cast<float>(q);
          }
        } else {  // q4_0: d = max / -8 so that the extreme value maps to -8
          const std::uint16_t dh = to_half(signed_max / -8.0f);
          const float d = from_half(dh);
          pod(data, dh);
          int q[32];
          for (std::size_t k = 0; k < 32; ++k) {
            const float x = values[b * 32 + k];
            q[k] = d == 0 ? 8 : std::max(0, std::min(15, static_cast<int>(std::lround(x / d)) + 8));
            stored[b * 32 + k] = d * static_cast<float>(q[k] - 8);
          }
          for (std::size_t k = 0; k < 16; ++k) data.push_back(static_cast<char>(q[k] | q[k + 16] << 4));
        }
      }
    }
    while (data_.size() % alignment_) data_.push_back('\0');
    str(infos_, name);
    pod(infos_, static_cast<std::uint32_t>(ne.size()));
    for (auto n : ne) pod(infos_, n);
    pod(infos_, static_cast<std::uint32_t>(type));
    pod(infos_, static_cast<std::uint64_t>(data_.size()));
    data_ += data;
    ++n_tensors_;
    return stored;
  }

  // A tensor whose data bytes are given as they are (any ggml type).
  void add_tensor_bytes(const std::string& name, const std::vector<std::uint64_t>& ne, std::uint32_t type,
                        const std::string& data) {
    while (data_.size() % alignment_) data_.push_back('\0');
    add_tensor_info(name, ne, type, data_.size());
    data_ += data;
  }

  // A tensor info with any fields and no data (for hostile files).
  void add_tensor_info(const std::string& name, const std::vector<std::uint64_t>& ne, std::uint32_t type,
                       std::uint64_t offset) {
    str(infos_, name);
    pod(infos_, static_cast<std::uint32_t>(ne.size()));
    for (auto n : ne) pod(infos_, n);
    pod(infos_, type);
    pod(infos_, offset);
    ++n_tensors_;
  }

  std::string bytes() const {
    std::string out = "GGUF";
    pod(out, version_);
    pod(out, n_tensors_);
    pod(out, n_kv_);
    out += kv_;
    out += infos_;
    while (out.size() % alignment_) out.push_back('\0');
    return out + data_;
  }

 private:
  template <typename T>
  static void pod(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  static void str(std::string& s, const std::string& v) {
    pod(s, std::uint64_t{v.size()});
    s += v;
  }
  void kv_header(const std::string& key, std::uint32_t type) { str(kv_, key), pod(kv_, type); }

  std::uint32_t version_;
  std::uint32_t alignment_;
  std::uint64_t n_tensors_ = 0;
  std::uint64_t n_kv_ = 0;
  std::string kv_, infos_, data_;
};

}  // namespace fhellm::model::testing
