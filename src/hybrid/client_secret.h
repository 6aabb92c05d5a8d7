// The client's long-term secret: 32 random bytes in a file only its owner
// may read (mode 0600), from which the client derives the keys it keeps
// data under (HKDF-SHA256, one purpose string each): the online material at
// rest (docs/online.md section 6). Never sent anywhere.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace fhellm::hybrid {

using SecretKey32 = std::array<std::uint8_t, 32>;

class ClientSecret {
 public:
  // Reads `path`; when it does not exist, creates it (and its directory)
  // with 32 fresh bytes of RAND_bytes, mode 0600.
  // @throws Error(io_error) when it cannot be read or created,
  //         Error(wrong_key) when the file does not hold exactly 32 bytes.
  static ClientSecret load_or_create(const std::filesystem::path& path);
  // From 32 bytes (tests).
  explicit ClientSecret(const SecretKey32& bytes) : bytes_(bytes) {}
  ~ClientSecret();
  ClientSecret(const ClientSecret&) = default;
  ClientSecret& operator=(const ClientSecret&) = default;

  // HKDF-SHA256(secret, salt "fhellm", info `purpose`): 32 bytes.
  // @throws Error(internal_error) when OpenSSL fails.
  SecretKey32 derive(std::string_view purpose) const;

 private:
  SecretKey32 bytes_{};
};

// $XDG_CONFIG_HOME/fhellm/client.key, else $HOME/.config/fhellm/client.key
// (else ./fhellm-client.key).
std::filesystem::path default_client_secret_path();

}  // namespace fhellm::hybrid
