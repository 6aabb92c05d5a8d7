// Prng: a deterministic stream of bytes from a 32-byte seed, AES-256-CTR
// (OpenSSL EVP, AES-NI where present). Fresh seeds come from RAND_bytes.
// Used to expand the uniform half of seeded ciphertexts (the seed is public)
// and, from a fresh secret seed, to sample secrets and errors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace fhellm::he {

using Seed = std::array<std::uint8_t, 32>;

// 32 bytes from OpenSSL's RAND_bytes. @throws Error(internal_error) if it fails.
Seed random_seed();

class Prng {
 public:
  // @throws Error(internal_error) when OpenSSL cannot set up AES-256-CTR.
  explicit Prng(const Seed& seed);
  ~Prng();
  Prng(Prng&&) noexcept;
  Prng& operator=(Prng&&) noexcept;

  void fill(std::uint8_t* out, std::size_t count);
  std::uint64_t next_u64();
  // Uniform in [0, bound) by rejection on the smallest covering power of two.
  std::uint64_t uniform_below(std::uint64_t bound);
  // count values uniform in [0, bound) (bulk version of uniform_below; the
  // same stream gives the same values as count calls would not: use one or
  // the other consistently).
  void fill_uniform_below(std::uint64_t bound, std::uint64_t* out, std::size_t count);
  // count centred binomial samples of parameter eta <= 32.
  void fill_centered_binomial(int eta, std::int64_t* out, std::size_t count);
  // Uniform in {-1, 0, 1}.
  int ternary();
  // Centred binomial: sum of eta bits minus sum of eta bits (variance eta/2).
  int centered_binomial(int eta);

 private:
  void refill();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fhellm::he
