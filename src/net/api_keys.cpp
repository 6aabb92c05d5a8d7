#include "net/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fhellm/error.h"

namespace fhellm::net {

namespace {

constexpr std::string_view kPrefix = "fhk_";
constexpr std::size_t kIdBytes = 8, kSecretBytes = 32, kSaltBytes = 16, kDigestBytes = 32;

std::string to_hex(const std::uint8_t* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

// nullopt unless `text` is exactly 2 * n lowercase or uppercase hex digits.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text, std::size_t n) {
  if (text.size() != 2 * n) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  require(RAND_bytes(out.data(), static_cast<int>(n)) == 1, ErrorCode::internal_error, "RAND_bytes failed");
  return out;
}

std::vector<std::uint8_t> salted_digest(const std::vector<std::uint8_t>& salt, const std::vector<std::uint8_t>& secret) {
  std::vector<std::uint8_t> input(salt);
  input.insert(input.end(), secret.begin(), secret.end());
  std::vector<std::uint8_t> out(kDigestBytes);
  unsigned int len = 0;
  require(EVP_Digest(input.data(), input.size(), out.data(), &len, EVP_sha256(), nullptr) == 1 && len == kDigestBytes,
          ErrorCode::internal_error, "SHA-256 failed");
  OPENSSL_cleanse(input.data(), input.size());
  return out;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

// Parses "sessions=N", "rps=R" or "rows_per_hour=H" into `limits`; false when malformed.
bool parse_limit(std::string_view field, KeyLimits& limits) {
  const auto eq = field.find('=');
  if (eq == std::string_view::npos) return false;
  const std::string name(field.substr(0, eq)), value(field.substr(eq + 1));
  if (value.empty() || value.size() > 20) return false;
  char* end = nullptr;
  if (name == "rps") {
    const double v = std::strtod(value.c_str(), &end);
    if (*end != '\0' || !(v >= 0 && v <= 1e9)) return false;
    limits.requests_per_second = v;
    return true;
  }
  for (char c : value)
    if (c < '0' || c > '9') return false;
  const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  if (name == "sessions" && v <= 1000000) {
    limits.sessions = static_cast<std::uint32_t>(v);
    return true;
  }
  if (name == "rows_per_hour" && v <= (1ull << 53)) {
    limits.rows_per_hour = v;
    return true;
  }
  return false;
}

ApiKeyEntry parse_line(std::string_view line, const std::string& where) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  require(fields.size() >= 4 && fields.size() <= 7, ErrorCode::bad_config,
          where + ": expected '<id> <name> <salt> <digest> [limits]', got " + std::to_string(fields.size()) +
              " fields");
  ApiKeyEntry e;
  require(from_hex(fields[0], kIdBytes).has_value(), ErrorCode::bad_config, where + ": id is not 16 hex digits");
  e.id = fields[0];
  require(valid_name(fields[1]), ErrorCode::bad_config, where + ": name is not 1-64 of [A-Za-z0-9_.-]");
  e.name = fields[1];
  auto salt = from_hex(fields[2], kSaltBytes);
  auto digest = from_hex(fields[3], kDigestBytes);
  require(salt && digest, ErrorCode::bad_config, where + ": salt must be 32 and digest 64 hex digits");
  e.salt = std::move(*salt);
  e.digest = std::move(*digest);
  for (std::size_t i = 4; i < fields.size(); ++i)
    require(parse_limit(fields[i], e.limits), ErrorCode::bad_config,
            where + ": bad limit '" + fields[i] + "' (sessions=N, rps=R, rows_per_hour=H)");
  return e;
}

}  // namespace

ApiKeyStore ApiKeyStore::parse(std::string_view text) {
  ApiKeyStore store;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    require(line.size() <= 1024, ErrorCode::bad_config, "API key file line " + std::to_string(line_no) + ": too long");
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = "API key file line " + std::to_string(line_no);
    store.insert(parse_line(line, where), where);
  }
  return store;
}

ApiKeyStore ApiKeyStore::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open API key file '" + path.string() + "'");
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    require(text.size() <= (16u << 20), ErrorCode::bad_config, "API key file '" + path.string() + "' exceeds 16 MB");
  }
  return parse(text);
}

void ApiKeyStore::insert(ApiKeyEntry entry, const std::string& where) {
  require(by_id_.count(entry.id) == 0, ErrorCode::bad_config, where + ": id " + entry.id + " repeated");
  for (const ApiKeyEntry& e : entries_)
    require(e.name != entry.name, ErrorCode::bad_config, where + ": name '" + entry.name + "' repeated");
  by_id_.emplace(entry.id, entries_.size());
  entries_.push_back(std::move(entry));
}

const ApiKeyEntry* ApiKeyStore::verify(std::string_view key) const {
  // fhk_ + 16 + _ + 64
  if (key.size() != kPrefix.size() + 2 * kIdBytes + 1 + 2 * kSecretBytes || key.substr(0, kPrefix.size()) != kPrefix ||
      key[kPrefix.size() + 2 * kIdBytes] != '_')
    return nullptr;
  const std::string_view id = key.substr(kPrefix.size(), 2 * kIdBytes);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  auto secret = from_hex(key.substr(kPrefix.size() + 2 * kIdBytes + 1), kSecretBytes);
  if (!secret) return nullptr;
  const ApiKeyEntry& e = entries_[it->second];
  const std::vector<std::uint8_t> digest = salted_digest(e.salt, *secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  return CRYPTO_memcmp(digest.data(), e.digest.data(), kDigestBytes) == 0 ? &e : nullptr;
}

std::string ApiKeyStore::add(const std::string& name, KeyLimits limits) {
  require(valid_name(name), ErrorCode::invalid_argument, "API key name '" + name + "' is not 1-64 of [A-Za-z0-9_.-]");
  for (const ApiKeyEntry& e : entries_)
    require(e.name != name, ErrorCode::invalid_argument, "an API key named '" + name + "' exists already");
  ApiKeyEntry e;
  do {
    const auto id = random_bytes(kIdBytes);
    e.id = to_hex(id.data(), id.size());
  } while (by_id_.count(e.id) != 0);
  e.name = name;
  e.salt = random_bytes(kSaltBytes);
  std::vector<std::uint8_t> secret = random_bytes(kSecretBytes);
  e.digest = salted_digest(e.salt, secret);
  e.limits = limits;
  std::string key = std::string(kPrefix) + e.id + "_" + to_hex(secret.data(), secret.size());
  OPENSSL_cleanse(secret.data(), secret.size());
  insert(std::move(e), "new key");
  return key;
}

void ApiKeyStore::remove(const std::string& name) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].name != name) continue;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    by_id_.clear();
    for (std::size_t j = 0; j < entries_.size(); ++j) by_id_.emplace(entries_[j].id, j);
    return;
  }
  throw Error(ErrorCode::invalid_argument, "no API key named '" + name + "'");
}

std::string ApiKeyStore::serialize() const {
  std::ostringstream out;
  out << "# fhellm API keys: <id> <name> <salt> <sha256(salt || secret)> [limits]; written by `fhellm api-key`\n";
  for (const ApiKeyEntry& e : entries_) {
    out << e.id << ' ' << e.name << ' ' << to_hex(e.salt.data(), e.salt.size()) << ' '
        << to_hex(e.digest.data(), e.digest.size());
    if (e.limits.sessions != 0) out << " sessions=" << e.limits.sessions;
    if (e.limits.requests_per_second != 0) out << " rps=" << e.limits.requests_per_second;
    if (e.limits.rows_per_hour != 0) out << " rows_per_hour=" << e.limits.rows_per_hour;
    out << '\n';
  }
  return out.str();
}

void ApiKeyStore::save(const std::filesystem::path& path) const {
  const std::string tmp = path.string() + ".tmp";
  const std::string text = serialize();
  // Created 0600 (the digests are not secrets, but the names and limits are the operator's).
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  require(fd >= 0, ErrorCode::io_error, "cannot create '" + tmp + "'");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  require(ok, ErrorCode::io_error, "cannot write '" + tmp + "'");
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  require(!ec, ErrorCode::io_error, "cannot replace '" + path.string() + "': " + ec.message());
}

std::string api_key_from(const std::string& explicit_key) {
  if (!explicit_key.empty()) return explicit_key;
  const char* env = std::getenv("FHELLM_API_KEY");
  return env == nullptr ? std::string() : std::string(env);
}

}  // namespace fhellm::net
