// API keys: who may use a server, and how much.
//
// A key is a bearer token the client sends as `Authorization: Bearer KEY`:
//   fhk_<id: 16 hex digits>_<secret: 64 hex digits>   (8 + 32 random bytes, RAND_bytes)
// The server's key file holds, per key, its id, a name, a random 16-byte salt
// and SHA-256(salt || secret), never the secret: a stolen key file does not
// let anyone in. One line per key, '#' starts a comment:
//   <id> <name> <salt hex> <sha256 hex> [sessions=N] [rps=R] [rows_per_hour=H]
// A plain SHA-256 is enough because the secret is 256 random bits (no
// dictionary to try), and it keeps a check at one hash: the check runs before
// a request's body is read, on every request.
//
// Limits (0 or absent: the server's default for keys, `fhellm serve --key-*`):
//   sessions       sessions the key may hold open at once
//   rps            requests per second (a token bucket with one second of burst)
//   rows_per_hour  rows per hour (encrypted rows, and the online mode's masked
//                  rows), summed over the key's linear calls:
//                  what an extraction by chosen rows costs (docs/threat-model.md)
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fhellm::net {

struct KeyLimits {
  std::uint32_t sessions = 0;
  double requests_per_second = 0;
  std::uint64_t rows_per_hour = 0;
};

struct ApiKeyEntry {
  std::string id;    // 16 hex digits, public (appears in logs and metrics as the key's name does)
  std::string name;  // [A-Za-z0-9_.-]{1,64}
  std::vector<std::uint8_t> salt;    // 16 bytes
  std::vector<std::uint8_t> digest;  // 32 bytes: SHA-256(salt || secret)
  KeyLimits limits;
};

class ApiKeyStore {
 public:
  ApiKeyStore() = default;

  // Parses a key file. @throws Error(file_not_found) when it cannot be read,
  // Error(bad_config) naming the line of a malformed entry or a repeated id or name.
  static ApiKeyStore load(const std::filesystem::path& path);
  // @throws Error(bad_config) as load.
  static ApiKeyStore parse(std::string_view text);

  // The entry a presented key belongs to, or nullopt (unknown id, wrong
  // secret, malformed token). Constant time in the secret.
  const ApiKeyEntry* verify(std::string_view key) const;

  // Makes a new key named `name`, adds its entry and returns the key (the
  // only time it exists in clear). @throws Error(invalid_argument) for a bad
  // or repeated name.
  std::string add(const std::string& name, KeyLimits limits);
  // @throws Error(invalid_argument) when no key has this name.
  void remove(const std::string& name);

  // The file text: one line per entry.
  std::string serialize() const;
  // Writes serialize() to `path` with mode 0600, through a temporary file
  // renamed over it. @throws Error(io_error).
  void save(const std::filesystem::path& path) const;

  const std::vector<ApiKeyEntry>& entries() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  void insert(ApiKeyEntry entry, const std::string& where);
  std::vector<ApiKeyEntry> entries_;
  std::map<std::string, std::size_t, std::less<>> by_id_;
};

// The key a client sends: `explicit_key` when not empty, else the
// FHELLM_API_KEY environment variable, else empty (no key).
std::string api_key_from(const std::string& explicit_key);

}  // namespace fhellm::net
