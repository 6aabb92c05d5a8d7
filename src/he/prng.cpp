#include "he/prng.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "fhellm/error.h"

namespace fhellm::he {

Seed random_seed() {
  Seed seed;
  require(RAND_bytes(seed.data(), static_cast<int>(seed.size())) == 1, ErrorCode::internal_error,
          "RAND_bytes failed");
  return seed;
}

struct Prng::Impl {
  EVP_CIPHER_CTX* ctx = nullptr;
  std::array<std::uint8_t, 4096> buffer{};
  std::size_t used = 4096;
  ~Impl() {
    if (ctx) EVP_CIPHER_CTX_free(ctx);
  }
};

Prng::Prng(const Seed& seed) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_CIPHER_CTX_new();
  const std::uint8_t iv[16] = {};
  require(impl_->ctx != nullptr && EVP_EncryptInit_ex(impl_->ctx, EVP_aes_256_ctr(), nullptr, seed.data(), iv) == 1,
          ErrorCode::internal_error, "cannot set up AES-256-CTR");
}

Prng::~Prng() = default;
Prng::Prng(Prng&&) noexcept = default;
Prng& Prng::operator=(Prng&&) noexcept = default;

void Prng::refill() {
  // Keystream = AES-CTR encryption of zeros.
  std::memset(impl_->buffer.data(), 0, impl_->buffer.size());
  int out_len = 0;
  if (EVP_EncryptUpdate(impl_->ctx, impl_->buffer.data(), &out_len, impl_->buffer.data(),
                        static_cast<int>(impl_->buffer.size())) != 1 ||
      out_len != static_cast<int>(impl_->buffer.size())) {
    throw Error(ErrorCode::internal_error, "AES-256-CTR keystream failed");
  }
  impl_->used = 0;
}

void Prng::fill(std::uint8_t* out, std::size_t count) {
  while (count > 0) {
    if (impl_->used == impl_->buffer.size()) refill();
    const std::size_t take = std::min(count, impl_->buffer.size() - impl_->used);
    std::memcpy(out, impl_->buffer.data() + impl_->used, take);
    impl_->used += take;
    out += take;
    count -= take;
  }
}

std::uint64_t Prng::next_u64() {
  if (impl_->buffer.size() - impl_->used < 8) {
    std::uint64_t v;
    fill(reinterpret_cast<std::uint8_t*>(&v), 8);
    return v;
  }
  std::uint64_t v;
  std::memcpy(&v, impl_->buffer.data() + impl_->used, 8);
  impl_->used += 8;
  return v;
}

std::uint64_t Prng::uniform_below(std::uint64_t bound) {
  if (bound <= 1) return 0;
  const int bits = 64 - __builtin_clzll(bound - 1);
  const std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  for (;;) {
    const std::uint64_t v = next_u64() & mask;
    if (v < bound) return v;
  }
}

void Prng::fill_uniform_below(std::uint64_t bound, std::uint64_t* out, std::size_t count) {
  if (bound <= 1) {
    std::fill(out, out + count, 0);
    return;
  }
  const int bits = 64 - __builtin_clzll(bound - 1);
  const std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  std::size_t done = 0;
  while (done < count) {
    // Draw raw words for every missing value, keep those below the bound.
    fill(reinterpret_cast<std::uint8_t*>(out + done), (count - done) * sizeof(std::uint64_t));
    std::size_t kept = done;
    for (std::size_t i = done; i < count; ++i) {
      const std::uint64_t v = out[i] & mask;
      out[kept] = v;
      kept += v < bound;
    }
    done = kept;
  }
}

namespace {
// Portable popcount (the library is built for baseline x86-64, without POPCNT).
inline int bit_count(std::uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}
}  // namespace

void Prng::fill_centered_binomial(int eta, std::int64_t* out, std::size_t count) {
  fill(reinterpret_cast<std::uint8_t*>(out), count * sizeof(std::int64_t));
  const std::uint64_t mask = (eta >= 32) ? 0xffffffffULL : ((std::uint64_t{1} << eta) - 1);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t bits = static_cast<std::uint64_t>(out[i]);
    out[i] = bit_count(bits & mask) - bit_count((bits >> 32) & mask);
  }
}

int Prng::ternary() { return static_cast<int>(uniform_below(3)) - 1; }

int Prng::centered_binomial(int eta) {
  const std::uint64_t bits = next_u64();
  const std::uint64_t mask = (eta >= 32) ? 0xffffffffULL : ((std::uint64_t{1} << eta) - 1);
  return bit_count(bits & mask) - bit_count((bits >> 32) & mask);
}

}  // namespace fhellm::he
