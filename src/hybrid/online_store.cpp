#include "hybrid/online_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fhellm/error.h"
#include "he/linear_layout.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;
using BatchId = std::array<std::uint8_t, 16>;

constexpr std::uint8_t kBatchMagic[4] = {'F', 'H', 'O', 'M'};
constexpr std::uint8_t kJournalMagic[4] = {'F', 'H', 'O', 'J'};
constexpr std::uint16_t kStoreVersion = 1;
constexpr std::size_t kNonceBytes = 12, kTagBytes = 16, kJournalHeader = 8;

[[noreturn]] void io_fail(const fs::path& path, const std::string& what) {
  throw Error(ErrorCode::io_error, "online store '" + path.string() + "': " + what + " (" + std::strerror(errno) + ")");
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

void write_all(int fd, const std::uint8_t* data, std::size_t size, const fs::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) io_fail(path, "cannot write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void sync_dir(const fs::path& dir) {
  const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd < 0 || ::fsync(fd.fd) != 0) io_fail(dir, "cannot sync the directory");
}

// Bytes not zeroed first (a batch is megabytes, written over at once).
struct Buffer {
  std::unique_ptr<std::uint8_t[]> bytes;
  std::size_t size = 0;
  explicit Buffer(std::size_t n) : bytes(std::make_unique_for_overwrite<std::uint8_t[]>(n)), size(n) {}
  std::uint8_t* data() { return bytes.get(); }
  ByteView view() const { return ByteView(bytes.get(), size); }
};

Buffer read_file(const fs::path& path, std::size_t max_bytes) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) io_fail(path, "cannot open");
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) io_fail(path, "cannot stat");
  require(static_cast<std::uint64_t>(st.st_size) <= max_bytes, ErrorCode::material_corrupt,
          "online material '" + path.string() + "' is larger than any batch");
  Buffer out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size) {
    const ssize_t n = ::read(fd.fd, out.data() + done, out.size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail(path, "cannot read");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.size = done;
  return out;
}

std::size_t row_bytes(std::uint32_t n) { return 32 + 4 * std::size_t{n}; }

// AES-256-GCM with the header as associated data; false when decryption's tag check fails.
bool gcm(bool encrypt, const SecretKey32& key, ByteView nonce, ByteView aad, ByteView in, std::uint8_t* out,
         std::uint8_t* tag) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data(), encrypt ? 1 : 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
    throw Error(ErrorCode::internal_error, "online store: OpenSSL AES-GCM setup failed");
  // In pieces below 2^30 bytes (int lengths).
  std::size_t done = 0;
  while (done < in.size()) {
    const int piece = static_cast<int>(std::min<std::size_t>(in.size() - done, std::size_t{1} << 30));
    if (EVP_CipherUpdate(ctx.get(), out + done, &len, in.data() + done, piece) != 1)
      throw Error(ErrorCode::internal_error, "online store: OpenSSL AES-GCM failed");
    done += static_cast<std::size_t>(piece);
  }
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1)
    throw Error(ErrorCode::internal_error, "online store: OpenSSL AES-GCM failed");
  if (EVP_CipherFinal_ex(ctx.get(), out + done, &len) != 1) {
    if (encrypt) throw Error(ErrorCode::internal_error, "online store: OpenSSL AES-GCM failed");
    return false;
  }
  if (encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1)
    throw Error(ErrorCode::internal_error, "online store: OpenSSL AES-GCM failed");
  return true;
}

struct BatchHeader {
  MaterialBatch shape;  // without rows
  std::uint32_t rows = 0;
  BatchId id{};
  std::array<std::uint8_t, kNonceBytes> nonce{};
};

Bytes encode_header(const BatchHeader& h) {
  Bytes out;
  ByteWriter w(out);
  w.bytes(ByteView(kBatchMagic, 4));
  w.u16(kStoreVersion);
  w.u16(0);
  w.u32(h.shape.wire_id);
  w.u32(h.shape.n);
  w.u32(h.shape.k);
  w.u32(h.rows);
  w.u64(h.shape.p);
  w.bytes(h.shape.digest);
  w.bytes(h.id);
  w.bytes(h.nonce);
  w.u32(0);
  return out;
}

// The header's fields, checked (material_corrupt: a store file is ours or tampered).
BatchHeader decode_header(ByteView bytes, const std::string& what) {
  ByteReader r(bytes.first(std::min(bytes.size(), kBatchHeaderBytes)), what);
  auto check = [&](bool ok, const std::string& msg) { require(ok, ErrorCode::material_corrupt, what + ": " + msg); };
  check(bytes.size() >= kBatchHeaderBytes, "shorter than its header");
  check(std::memcmp(r.take(4).data(), kBatchMagic, 4) == 0, "bad magic");
  check(r.u16() == kStoreVersion, "unknown version");
  check(r.u16() == 0, "reserved field is not 0");
  BatchHeader h;
  h.shape.wire_id = r.u32();
  h.shape.n = r.u32();
  h.shape.k = r.u32();
  h.rows = r.u32();
  h.shape.p = r.u64();
  r.copy_to(h.shape.digest);
  r.copy_to(h.id);
  r.copy_to(h.nonce);
  check(r.u32() == 0, "reserved field is not 0");
  // k: a product's inputs, or a table's rows (its online modulus 2^8).
  const std::uint32_t max_k = h.shape.p == he::kOnlineTableModulus ? he::kLinearMaxTableIn : he::kLinearMaxIn;
  check(h.rows >= 1 && h.rows <= kMaxBatchRows && h.shape.n >= 1 && h.shape.n <= he::kLinearMaxOut &&
            h.shape.k >= 1 && h.shape.k <= max_k && h.shape.p >= 2 && h.shape.p < (std::uint64_t{1} << 32),
        "fields out of range");
  return h;
}

std::uint64_t batch_file_bytes(const BatchHeader& h) {
  return kBatchHeaderBytes + std::uint64_t{h.rows} * row_bytes(h.shape.n) + kTagBytes;
}

// The rows of an authenticated batch's plaintext.
MaterialBatch rows_of(BatchHeader h, const std::uint8_t* plain, const std::string& what) {
  MaterialBatch out = std::move(h.shape);
  out.rows.reserve(h.rows);
  for (std::uint32_t i = 0; i < h.rows; ++i) {
    const std::uint8_t* src = plain + i * row_bytes(out.n);
    he::Seed seed{};
    std::memcpy(seed.data(), src, seed.size());
    std::vector<std::uint32_t> product(out.n);
    bool in_range = true;
    for (std::uint32_t j = 0; j < out.n; ++j) {
      std::uint32_t v = 0;
      for (int b = 0; b < 4; ++b) v |= static_cast<std::uint32_t>(src[32 + 4 * j + b]) << (8 * b);
      in_range &= v < out.p;
      product[j] = v;
    }
    if (!in_range) throw Error(ErrorCode::material_corrupt, what + ": a residue is not below its modulus");
    out.rows.emplace_back(seed, std::move(product));
    OPENSSL_cleanse(seed.data(), seed.size());
  }
  return out;
}

}  // namespace

OnlineStore::OnlineStore(fs::path dir, const ClientSecret& secret)
    : dir_(std::move(dir)), key_(secret.derive("fhellm online material 1")) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!fs::is_directory(dir_)) io_fail(dir_, "cannot create the directory");
  ::chmod(dir_.c_str(), 0700);
}

fs::path OnlineStore::layer_dir(const online::WeightsDigest& digest) const { return dir_ / hex(digest); }

void OnlineStore::put(const MaterialBatch& batch) {
  const auto rows = static_cast<std::uint32_t>(batch.rows.size());
  require(rows >= 1 && rows <= kMaxBatchRows, ErrorCode::invalid_argument,
          "online store: a batch holds 1.." + std::to_string(kMaxBatchRows) + " rows, not " + std::to_string(rows));
  BatchHeader h;
  h.shape.wire_id = batch.wire_id;
  h.shape.n = batch.n;
  h.shape.k = batch.k;
  h.shape.p = batch.p;
  h.shape.digest = batch.digest;
  h.rows = rows;
  require(RAND_bytes(h.id.data(), static_cast<int>(h.id.size())) == 1 &&
              RAND_bytes(h.nonce.data(), static_cast<int>(h.nonce.size())) == 1,
          ErrorCode::internal_error, "online store: RAND_bytes failed");
  const Bytes header = encode_header(h);
  Bytes plain(std::size_t{rows} * row_bytes(batch.n));
  for (std::uint32_t i = 0; i < rows; ++i) {
    const MaskRow& row = batch.rows[i];
    require(row.product().size() == batch.n, ErrorCode::invalid_argument, "online store: a row has the wrong size");
    std::uint8_t* dst = plain.data() + i * row_bytes(batch.n);
    const he::Seed& seed = row.seed_for_storage();
    std::memcpy(dst, seed.data(), seed.size());
    for (std::uint32_t j = 0; j < batch.n; ++j)
      for (int b = 0; b < 4; ++b) dst[32 + 4 * j + b] = static_cast<std::uint8_t>(row.product()[j] >> (8 * b));
  }
  Bytes file(header);
  file.resize(header.size() + plain.size() + kTagBytes);
  gcm(true, key_, h.nonce, header, plain, file.data() + header.size(), file.data() + header.size() + plain.size());
  OPENSSL_cleanse(plain.data(), plain.size());

  const fs::path dir = layer_dir(batch.digest);
  std::error_code ec;
  if (fs::create_directories(dir, ec)) ::chmod(dir.c_str(), 0700);
  const fs::path final_path = dir / (hex(h.id) + ".fhom"), temp = dir / (hex(h.id) + ".tmp");
  {
    const Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.fd < 0) io_fail(temp, "cannot create");
    write_all(fd.fd, file.data(), file.size(), temp);
    if (::fsync(fd.fd) != 0) io_fail(temp, "cannot sync");
  }
  if (::rename(temp.c_str(), final_path.c_str()) != 0) io_fail(final_path, "cannot rename into place");
  sync_dir(dir);
}

std::size_t OnlineStore::rows_available(const online::WeightsDigest& digest) const {
  std::size_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(layer_dir(digest), ec)) {
    if (entry.path().extension() != ".fhom") continue;
    const Fd fd(::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
    std::uint8_t head[kBatchHeaderBytes];
    if (fd.fd < 0 || ::read(fd.fd, head, sizeof head) != static_cast<ssize_t>(sizeof head)) continue;
    try {
      total += decode_header(ByteView(head, sizeof head), entry.path().string()).rows;
    } catch (const Error&) {
      // counted as nothing: take() reports it
    }
  }
  return total;
}

std::optional<std::size_t> OnlineStore::journal(std::span<const std::array<std::uint8_t, 16>> ids) {
  const fs::path path = dir_ / "spent";
  const Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd.fd < 0) io_fail(path, "cannot open the journal");
  if (::flock(fd.fd, LOCK_EX) != 0) io_fail(path, "cannot lock the journal");
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) io_fail(path, "cannot stat the journal");
  Bytes bytes(static_cast<std::size_t>(st.st_size));
  if (!bytes.empty() && ::pread(fd.fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    io_fail(path, "cannot read the journal");
  Bytes append;
  ByteWriter w(append);
  if (bytes.empty()) {
    w.bytes(ByteView(kJournalMagic, 4));
    w.u16(kStoreVersion);
    w.u16(0);
  } else {
    require(bytes.size() >= kJournalHeader && std::memcmp(bytes.data(), kJournalMagic, 4) == 0 &&
                (bytes.size() - kJournalHeader) % sizeof(BatchId) == 0,
            ErrorCode::material_corrupt, "online store journal '" + path.string() + "' is damaged");
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t off = kJournalHeader; off < bytes.size(); off += sizeof(BatchId))
      if (std::memcmp(bytes.data() + off, ids[i].data(), sizeof(BatchId)) == 0) return i;
    w.bytes(ids[i]);
  }
  write_all(fd.fd, append.data(), append.size(), path);
  if (::fsync(fd.fd) != 0) io_fail(path, "cannot sync the journal");
  return std::nullopt;
}

std::optional<OnlineStore::Claimed> OnlineStore::claim(const online::WeightsDigest& digest) {
  const fs::path dir = layer_dir(digest);
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".fhom") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    Claimed c;
    c.file = file;
    c.claimed = file;
    c.claimed.replace_extension(".taking");
    if (::rename(file.c_str(), c.claimed.c_str()) != 0) {
      if (errno == ENOENT) continue;  // another process took it
      io_fail(file, "cannot claim");
    }
    const std::string what = "online material '" + file.string() + "'";
    try {
      Buffer bytes =
          read_file(c.claimed, kBatchHeaderBytes + std::uint64_t{kMaxBatchRows} * row_bytes(1u << 17) + kTagBytes);
      BatchHeader h = decode_header(bytes.view(), what);
      require(bytes.size == batch_file_bytes(h), ErrorCode::material_corrupt,
              what + ": " + std::to_string(bytes.size) + " bytes, its header says " +
                  std::to_string(batch_file_bytes(h)) + " (truncated or extended)");
      require(h.shape.digest == digest, ErrorCode::material_corrupt, what + ": filed under other weights");
      const ByteView header(bytes.data(), kBatchHeaderBytes);
      const std::size_t body = bytes.size - kBatchHeaderBytes - kTagBytes;
      Buffer plain(body);
      const bool authentic = gcm(false, key_, h.nonce, header, ByteView(bytes.data() + kBatchHeaderBytes, body),
                                 plain.data(), bytes.data() + kBatchHeaderBytes + body);
      if (!authentic)
        throw Error(ErrorCode::material_corrupt,
                    what + ": authentication failed (changed, or stored under another client key)");
      c.id = h.id;
      c.batch = rows_of(std::move(h), plain.data(), what);
      OPENSSL_cleanse(plain.data(), plain.size);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::material_corrupt) set_aside(c, ".corrupt");
      throw;
    }
    return c;
  }
  return std::nullopt;
}

void OnlineStore::set_aside(const Claimed& c, const char* extension) noexcept {
  fs::path bad = c.file;
  bad.replace_extension(extension);
  (void)::rename(c.claimed.c_str(), bad.c_str());
}

std::vector<std::optional<MaterialBatch>> OnlineStore::take(std::span<const online::WeightsDigest> digests) {
  std::vector<std::optional<Claimed>> claims;
  try {
    for (const auto& d : digests) claims.push_back(claim(d));
  } catch (...) {
    for (auto& c : claims)
      if (c) set_aside(*c, ".fhom");  // authenticated, not journaled: back in place
    throw;
  }
  std::vector<BatchId> ids;
  for (const auto& c : claims)
    if (c) ids.push_back(c->id);
  if (const auto reused = journal(ids)) {
    std::size_t seen = 0;
    for (auto& c : claims) {
      if (!c) continue;
      set_aside(*c, seen++ == *reused ? ".reused" : ".fhom");
    }
    throw Error(ErrorCode::mask_reused, "online material batch " + hex(ids[*reused]) +
                                            " was taken before: its masks were used; a copy put back into the store "
                                            "is refused");
  }
  // Journaled (and synced): removing the files is cleanup; a file that came
  // back after a crash is refused by its id.
  std::vector<std::optional<MaterialBatch>> out;
  for (auto& c : claims) {
    if (!c) {
      out.emplace_back();
      continue;
    }
    if (::unlink(c->claimed.c_str()) != 0) io_fail(c->claimed, "cannot remove a taken batch");
    out.emplace_back(std::move(c->batch));
  }
  return out;
}

std::optional<MaterialBatch> OnlineStore::take(const online::WeightsDigest& digest) {
  return std::move(take(std::span<const online::WeightsDigest>(&digest, 1)).front());
}

std::filesystem::path default_online_store_path() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && x[0] != '\0')
    return fs::path(x) / "fhellm" / "online";
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] != '\0')
    return fs::path(h) / ".cache" / "fhellm" / "online";
  return "fhellm-online";
}

}  // namespace fhellm::hybrid
