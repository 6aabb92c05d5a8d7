#include "hybrid/client_secret.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "fhellm/error.h"

namespace fhellm::hybrid {
namespace {

[[noreturn]] void io_fail(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorCode::io_error, "client key '" + path.string() + "': " + what + " (" + std::strerror(errno) + ")");
}

// Writes 32 fresh bytes to a new file (O_EXCL: never over another key).
void create_secret(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  SecretKey32 fresh{};
  require(RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) == 1, ErrorCode::internal_error,
          "client key: RAND_bytes failed");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;  // made by another process meanwhile: read theirs
    io_fail(path, "cannot create");
  }
  const bool ok = ::write(fd, fresh.data(), fresh.size()) == static_cast<ssize_t>(fresh.size()) && ::fsync(fd) == 0;
  OPENSSL_cleanse(fresh.data(), fresh.size());
  ::close(fd);
  if (!ok) io_fail(path, "cannot write");
}

}  // namespace

ClientSecret ClientSecret::load_or_create(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) create_secret(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail(path, "cannot open");
  SecretKey32 bytes{};
  std::uint8_t extra = 0;
  const ssize_t got = ::read(fd, bytes.data(), bytes.size());
  const ssize_t more = got == static_cast<ssize_t>(bytes.size()) ? ::read(fd, &extra, 1) : 0;
  ::close(fd);
  if (got < 0 || more < 0) io_fail(path, "cannot read");
  require(got == static_cast<ssize_t>(bytes.size()) && more == 0, ErrorCode::wrong_key,
          "client key '" + path.string() + "' does not hold exactly 32 bytes");
  ClientSecret s(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return s;
}

ClientSecret::~ClientSecret() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

SecretKey32 ClientSecret::derive(std::string_view purpose) const {
  static constexpr unsigned char kSalt[] = "fhellm";
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                   EVP_PKEY_CTX_free);
  SecretKey32 out{};
  std::size_t len = out.size();
  const bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) > 0 &&
                  EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), kSalt, sizeof kSalt - 1) > 0 &&
                  EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), bytes_.data(), static_cast<int>(bytes_.size())) > 0 &&
                  EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(purpose.data()),
                                              static_cast<int>(purpose.size())) > 0 &&
                  EVP_PKEY_derive(ctx.get(), out.data(), &len) > 0 && len == out.size();
  require(ok, ErrorCode::internal_error, "client key: HKDF-SHA256 failed");
  return out;
}

std::filesystem::path default_client_secret_path() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && x[0] != '\0')
    return std::filesystem::path(x) / "fhellm" / "client.key";
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] != '\0')
    return std::filesystem::path(h) / ".config" / "fhellm" / "client.key";
  return "fhellm-client.key";
}

}  // namespace fhellm::hybrid
