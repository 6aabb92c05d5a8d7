#include "math/primes.h"

#include <string>

#include "fhellm/error.h"
#include "math/modulus.h"

namespace fhellm::math {
namespace {

std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b, std::uint64_t n) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % n);
}

std::uint64_t pow_mod(std::uint64_t a, std::uint64_t e, std::uint64_t n) {
  std::uint64_t r = 1 % n;
  a %= n;
  while (e) {
    if (e & 1) r = mul_mod(r, a, n);
    a = mul_mod(a, a, n);
    e >>= 1;
  }
  return r;
}

}  // namespace

bool is_prime(std::uint64_t n) noexcept {
  if (n < 2) return false;
  static constexpr std::uint64_t kSmall[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (std::uint64_t p : kSmall) {
    if (n % p == 0) return n == p;
  }
  std::uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  // These 12 bases are a proven deterministic witness set for n < 3.3e24.
  for (std::uint64_t a : kSmall) {
    std::uint64_t x = pow_mod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int i = 1; i < s; ++i) {
      x = mul_mod(x, x, n);
      if (x == n - 1) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

std::vector<std::uint64_t> generate_ntt_primes(int bit_size, std::size_t count, std::size_t poly_degree) {
  require(poly_degree >= 2 && (poly_degree & (poly_degree - 1)) == 0, ErrorCode::invalid_argument,
          "poly_degree " + std::to_string(poly_degree) + " is not a power of two >= 2");
  require(bit_size >= 2 && bit_size <= Modulus::kMaxBits, ErrorCode::invalid_argument,
          "prime bit size " + std::to_string(bit_size) + " outside [2, 61]");
  const std::uint64_t step = 2 * poly_degree;
  require(step < (std::uint64_t{1} << bit_size), ErrorCode::invalid_argument,
          "no " + std::to_string(bit_size) + "-bit prime = 1 mod " + std::to_string(step));
  std::vector<std::uint64_t> primes;
  // Largest candidate below 2^bit_size that is = 1 mod 2N.
  std::uint64_t candidate = (std::uint64_t{1} << bit_size) - step + 1;
  while (primes.size() < count && candidate > step) {
    if (is_prime(candidate)) primes.push_back(candidate);
    candidate -= step;
  }
  require(primes.size() == count, ErrorCode::out_of_range,
          "only " + std::to_string(primes.size()) + " NTT primes of " + std::to_string(bit_size) + " bits");
  return primes;
}

std::uint64_t minimal_primitive_root(std::size_t two_n, std::uint64_t q) {
  require(is_prime(q) && two_n >= 2 && (q - 1) % two_n == 0, ErrorCode::invalid_argument,
          std::to_string(q) + " is not a prime = 1 mod " + std::to_string(two_n));
  const std::uint64_t cofactor = (q - 1) / two_n;
  // A 2N-th root w is primitive iff w^N = -1 (2N is a power of two).
  std::uint64_t root = 0;
  for (std::uint64_t g = 2; g < q; ++g) {
    const std::uint64_t w = pow_mod(g, cofactor, q);
    if (pow_mod(w, two_n / 2, q) == q - 1) {
      root = w;
      break;
    }
  }
  require(root != 0, ErrorCode::internal_error, "no primitive root found");
  // Smallest power w^(odd) among all primitive roots, so the choice is canonical.
  const std::uint64_t w2 = mul_mod(root, root, q);
  std::uint64_t best = root, current = root;
  for (std::size_t i = 1; i < two_n / 2; ++i) {
    current = mul_mod(current, w2, q);
    if (current < best) best = current;
  }
  return best;
}

}  // namespace fhellm::math
