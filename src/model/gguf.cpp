// GGUF container reader (layout in model/gguf.h).
#include "model/gguf.h"

#include <cmath>
#include <cstring>
#include <set>

#include "common/bytes.h"
#include "fhellm/error.h"
#include "model/mapped_file.h"

namespace fhellm::model {
namespace {

// Hard maxima: far above any real file, low enough that a hostile header
// cannot make us allocate or loop without end.
constexpr std::uint64_t kMaxTensors = 1 << 20;
constexpr std::uint64_t kMaxMetadata = 1 << 20;
constexpr std::uint64_t kMaxStringBytes = 1 << 24;
constexpr std::uint64_t kMaxArrayElements = 1 << 26;
constexpr std::uint64_t kMaxTensorElements = std::uint64_t{1} << 40;
constexpr int kMaxArrayDepth = 4;

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1F;
  const std::uint32_t mant = h & 0x3FF;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      std::uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400) == 0);
      bits = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (m & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct TypeLayout {
  std::uint64_t block_values;  // values per block
  std::uint64_t block_bytes;
};

std::optional<TypeLayout> layout_of(std::uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::f32: return TypeLayout{1, 4};
    case GgmlType::f16: return TypeLayout{1, 2};
    case GgmlType::bf16: return TypeLayout{1, 2};
    case GgmlType::q8_0: return TypeLayout{32, 34};
    case GgmlType::q4_0: return TypeLayout{32, 18};
  }
  return std::nullopt;
}

// A GGUF string: u64 length (at most kMaxStringBytes), then the bytes.
// @throws Error(bad_model_file | truncated)
std::string read_string(ByteReader& r, const std::string& what) {
  const std::uint64_t len = r.u64((what + " length").c_str());
  require(len <= kMaxStringBytes, ErrorCode::bad_model_file,
          r.what() + ": " + what + " has length " + std::to_string(len) + ", above the limit " +
              std::to_string(kMaxStringBytes));
  const ByteView bytes = r.take(static_cast<std::size_t>(len), what.c_str());
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::uint64_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::uint8: case GgufValueType::int8: case GgufValueType::boolean: return 1;
    case GgufValueType::uint16: case GgufValueType::int16: return 2;
    case GgufValueType::uint32: case GgufValueType::int32: case GgufValueType::float32: return 4;
    case GgufValueType::uint64: case GgufValueType::int64: case GgufValueType::float64: return 8;
    default: return 0;
  }
}

double read_number(ByteReader& r, GgufValueType t, const std::string& what) {
  switch (t) {
    case GgufValueType::uint8: return r.u8(what.c_str());
    case GgufValueType::int8: return r.i8(what.c_str());
    case GgufValueType::boolean: {
      const auto b = r.u8(what.c_str());
      require(b <= 1, ErrorCode::bad_model_file, r.what() + ": " + what + " is a bool of value " + std::to_string(b));
      return b;
    }
    case GgufValueType::uint16: return r.u16(what.c_str());
    case GgufValueType::int16: return r.i16(what.c_str());
    case GgufValueType::uint32: return r.u32(what.c_str());
    case GgufValueType::int32: return r.i32(what.c_str());
    case GgufValueType::float32: return r.f32(what.c_str());
    case GgufValueType::uint64: return static_cast<double>(r.u64(what.c_str()));
    case GgufValueType::int64: return static_cast<double>(r.i64(what.c_str()));
    case GgufValueType::float64: return r.f64(what.c_str());
    default: break;
  }
  throw Error(ErrorCode::bad_model_file, r.what() + ": " + what + " has unknown value type " +
                                             std::to_string(static_cast<std::uint32_t>(t)));
}

GgufValueType checked_type(ByteReader& r, const std::string& what) {
  const auto t = r.u32((what + " type").c_str());
  require(t <= 12, ErrorCode::bad_model_file,
          r.what() + ": " + what + " has unknown value type " + std::to_string(t));
  return static_cast<GgufValueType>(t);
}

void read_value(ByteReader& r, GgufValue& v, const std::string& what, int depth) {
  if (v.type == GgufValueType::string) {
    v.text = read_string(r, what);
    return;
  }
  if (v.type != GgufValueType::array) {
    v.number = read_number(r, v.type, what);
    return;
  }
  require(depth < kMaxArrayDepth, ErrorCode::bad_model_file, r.what() + ": " + what + " nests arrays too deep");
  v.element_type = checked_type(r, what + " element");
  const auto count = r.u64((what + " count").c_str());
  // Each element takes at least one byte (a string at least 8): a count the
  // file cannot hold is refused before reserving anything.
  const std::uint64_t min_bytes =
      v.element_type == GgufValueType::string || v.element_type == GgufValueType::array ? 8
                                                                                         : scalar_size(v.element_type);
  require(count <= kMaxArrayElements && count <= r.remaining() / min_bytes, ErrorCode::bad_model_file,
          r.what() + ": " + what + " claims " + std::to_string(count) + " elements, more than the " +
              std::to_string(r.remaining()) + " bytes left can hold");
  v.array_size = static_cast<std::size_t>(count);
  if (v.element_type == GgufValueType::string) {
    v.strings.reserve(v.array_size);
    for (std::uint64_t i = 0; i < count; ++i) v.strings.push_back(read_string(r, what + "[" + std::to_string(i) + "]"));
  } else if (v.element_type == GgufValueType::array) {
    for (std::uint64_t i = 0; i < count; ++i) {  // nested arrays: validated, then dropped
      GgufValue inner;
      inner.type = GgufValueType::array;
      read_value(r, inner, what + "[" + std::to_string(i) + "]", depth + 1);
    }
  } else {
    v.numbers.reserve(v.array_size);
    for (std::uint64_t i = 0; i < count; ++i) v.numbers.push_back(read_number(r, v.element_type, what));
  }
}

}  // namespace

std::uint64_t GgufTensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

GgufFile::GgufFile(const std::filesystem::path& path)
    : path_(path), file_(std::make_unique<MappedFile>(path)) {
  parse();
}

GgufFile::~GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;

void GgufFile::parse() {
  const std::string where = "GGUF '" + path_.filename().string() + "'";
  ByteReader r(ByteView(file_->data(), file_->size()), where);
  r.need(4, "magic");
  require(std::memcmp(file_->data(), "GGUF", 4) == 0, ErrorCode::bad_magic, where + ": the file does not start with \"GGUF\"");
  r.u32("magic");
  version_ = r.u32("version");
  require(version_ == 2 || version_ == 3, ErrorCode::bad_version,
          where + ": version " + std::to_string(version_) + " is not supported (only 2 and 3)");
  const auto n_tensors = r.u64("tensor count");
  const auto n_kv = r.u64("metadata count");
  require(n_tensors <= kMaxTensors && n_tensors <= r.remaining() / 24, ErrorCode::bad_model_file,
          where + ": tensor count " + std::to_string(n_tensors) + " is impossible for a file of " +
              std::to_string(file_->size()) + " bytes");
  require(n_kv <= kMaxMetadata && n_kv <= r.remaining() / 13, ErrorCode::bad_model_file,
          where + ": metadata count " + std::to_string(n_kv) + " is impossible for a file of " +
              std::to_string(file_->size()) + " bytes");

  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(r, "metadata key " + std::to_string(i));
    GgufValue v;
    v.type = checked_type(r, "metadata '" + key + "'");
    read_value(r, v, "metadata '" + key + "'", 0);
    require(metadata_.emplace(key, std::move(v)).second, ErrorCode::bad_model_file,
            where + ": metadata key '" + key + "' appears twice");
  }
  if (find("general.alignment")) {
    const std::uint64_t a = *get_count("general.alignment");
    require(a >= 1 && a <= 65536 && (a & (a - 1)) == 0, ErrorCode::bad_model_file,
            where + ": general.alignment " + std::to_string(a) + " is not a power of two <= 65536");
    alignment_ = static_cast<std::size_t>(a);
  }

  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = read_string(r, "tensor name " + std::to_string(i));
    const std::string what = "tensor '" + t.name + "'";
    const auto n_dims = r.u32((what + " n_dims").c_str());
    require(n_dims >= 1 && n_dims <= 4, ErrorCode::bad_model_file,
            where + ": " + what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    std::uint64_t numel = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto n = r.u64((what + " dimension").c_str());
      require(n >= 1 && n <= kMaxTensorElements && numel <= kMaxTensorElements / n, ErrorCode::bad_model_file,
              where + ": " + what + " dimension " + std::to_string(d) + " = " + std::to_string(n) +
                  " is zero or makes the tensor too large");
      numel *= n;
      t.ne.push_back(n);
    }
    const auto type = r.u32((what + " type").c_str());
    const auto layout = layout_of(type);
    require(layout.has_value(), ErrorCode::unsupported_dtype,
            where + ": " + what + " has ggml type " + std::to_string(type) +
                ", not supported (F32, F16, BF16, Q8_0, Q4_0 are)");
    require(t.ne[0] % layout->block_values == 0, ErrorCode::bad_model_file,
            where + ": " + what + " rows of " + std::to_string(t.ne[0]) + " values are not whole blocks of " +
                std::to_string(layout->block_values));
    t.type = static_cast<GgmlType>(type);
    t.n_bytes = numel / layout->block_values * layout->block_bytes;
    t.offset = r.u64((what + " offset").c_str());
    require(t.offset % alignment_ == 0, ErrorCode::bad_model_file,
            where + ": " + what + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                std::to_string(alignment_));
    const std::string name = t.name;
    require(tensors_.emplace(name, std::move(t)).second, ErrorCode::bad_model_file,
            where + ": tensor '" + name + "' appears twice");
  }

  const std::size_t pad = (alignment_ - r.offset() % alignment_) % alignment_;
  data_start_ = r.offset() + pad;
  if (tensors_.empty()) data_start_ = std::min(data_start_, file_->size());  // vocabulary-only files
  require(data_start_ <= file_->size(), ErrorCode::truncated,
          where + ": the data section would start at " + std::to_string(data_start_) + ", past the end of the file (" +
              std::to_string(file_->size()) + " bytes)");
  const std::uint64_t data_bytes = file_->size() - data_start_;
  for (const auto& [name, t] : tensors_) {
    require(t.offset <= data_bytes && t.n_bytes <= data_bytes - t.offset, ErrorCode::truncated,
            where + ": tensor '" + name + "' spans bytes [" + std::to_string(t.offset) + ", " +
                std::to_string(t.offset + t.n_bytes) + ") of a data section of " + std::to_string(data_bytes));
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::optional<double> GgufFile::get_number(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  require(v->type != GgufValueType::string && v->type != GgufValueType::array, ErrorCode::bad_model_file,
          "GGUF '" + path_.filename().string() + "': metadata '" + key + "' is not a number");
  return v->number;
}

std::optional<std::uint64_t> GgufFile::get_count(const std::string& key) const {
  const auto n = get_number(key);
  if (!n) return std::nullopt;
  require(*n >= 0 && *n < 9.0e15 && std::floor(*n) == *n, ErrorCode::bad_model_file,
          "GGUF '" + path_.filename().string() + "': metadata '" + key + "' = " + std::to_string(*n) +
              " is not a count");
  return static_cast<std::uint64_t>(*n);
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  require(v->type == GgufValueType::string, ErrorCode::bad_model_file,
          "GGUF '" + path_.filename().string() + "': metadata '" + key + "' is not a string");
  return v->text;
}

std::vector<float> GgufFile::read_float(const std::string& name) const {
  const auto it = tensors_.find(name);
  require(it != tensors_.end(), ErrorCode::missing_tensor,
          "GGUF '" + path_.filename().string() + "': no tensor '" + name + "'");
  const GgufTensorInfo& t = it->second;
  const std::uint8_t* p = file_->data() + data_start_ + t.offset;
  const std::size_t n = static_cast<std::size_t>(t.numel());
  std::vector<float> out(n);
  switch (t.type) {
    case GgmlType::f32:
      std::memcpy(out.data(), p, n * 4);
      break;
    case GgmlType::f16:
    case GgmlType::bf16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t.type == GgmlType::f16 ? half_to_float(h) : bf16_to_float(h);
      }
      break;
    case GgmlType::q8_0:
      for (std::size_t b = 0; b < n / 32; ++b) {
        const std::uint8_t* block = p + b * 34;
        std::uint16_t h;
        std::memcpy(&h, block, 2);
        const float d = half_to_float(h);
        for (std::size_t k = 0; k < 32; ++k) out[b * 32 + k] = d * static_cast<float>(static_cast<std::int8_t>(block[2 + k]));
      }
      break;
    case GgmlType::q4_0:
      for (std::size_t b = 0; b < n / 32; ++b) {
        const std::uint8_t* block = p + b * 18;
        std::uint16_t h;
        std::memcpy(&h, block, 2);
        const float d = half_to_float(h);
        for (std::size_t k = 0; k < 16; ++k) {
          out[b * 32 + k] = d * static_cast<float>((block[2 + k] & 0x0F) - 8);
          out[b * 32 + k + 16] = d * static_cast<float>((block[2 + k] >> 4) - 8);
        }
      }
      break;
    default:
      throw Error(ErrorCode::unsupported_dtype, "GGUF tensor '" + name + "': unsupported type");
  }
  return out;
}

GgufVocab read_gguf_vocab(const GgufFile& file) {
  GgufVocab v;
  const auto model = file.get_string("tokenizer.ggml.model");
  if (!model) return v;
  v.model = *model;
  v.pre = file.get_string("tokenizer.ggml.pre").value_or("");
  const auto array_of = [&](const char* key, GgufValueType element) -> const GgufValue* {
    const GgufValue* a = file.find(key);
    if (!a) return nullptr;
    const bool is_string = element == GgufValueType::string;
    require(a->type == GgufValueType::array && (is_string ? a->element_type == GgufValueType::string
                                                          : a->element_type != GgufValueType::string &&
                                                                a->element_type != GgufValueType::array),
            ErrorCode::bad_model_file, std::string("GGUF metadata '") + key + "' is not an array of the right type");
    return a;
  };
  if (const GgufValue* a = array_of("tokenizer.ggml.tokens", GgufValueType::string)) v.tokens = a->strings;
  if (const GgufValue* a = array_of("tokenizer.ggml.scores", GgufValueType::float32))
    v.scores.assign(a->numbers.begin(), a->numbers.end());
  if (const GgufValue* a = array_of("tokenizer.ggml.token_type", GgufValueType::int32))
    for (double x : a->numbers) v.token_types.push_back(static_cast<std::int32_t>(x));
  if (const GgufValue* a = array_of("tokenizer.ggml.merges", GgufValueType::string)) v.merges = a->strings;
  const auto id = [&](const char* key) -> std::int32_t {
    const auto n = file.get_number(key);
    return n && *n >= 0 && *n < static_cast<double>(v.tokens.size()) ? static_cast<std::int32_t>(*n) : -1;
  };
  v.bos = id("tokenizer.ggml.bos_token_id");
  v.eos = id("tokenizer.ggml.eos_token_id");
  return v;
}

}  // namespace fhellm::model
