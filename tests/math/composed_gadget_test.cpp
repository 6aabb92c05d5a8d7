// Composed-gadget kernels (composed_gadget.h): the digits recompose the
// coefficient mod Q exactly, stay within their bound, and every kernel set
// (AVX-512, AVX2, portable) gives the reference's words; the top digit's
// transform from the others equals its own transform.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "math/composed_gadget.h"
#include "math/cpu_features.h"
#include "math/ntt.h"
#include "math/primes.h"

using namespace fhellm::math;

namespace {

// The kernel sets: 0 AVX-512 (where present), 1 AVX2, 2 portable.
void use_kernel_set(int set) {
  set_avx512_enabled(set == 0);
  set_simd_enabled(set != 2);
}

struct Residues {
  std::vector<std::uint64_t> r0, r1;
  std::vector<unsigned __int128> value;  // the coefficient in [0, Q)
};

// Coefficients with the extremes of the centred range (0, +-1, +-(Q-1)/2) and
// random ones, as residues.
Residues random_coefficients(std::size_t n, std::uint64_t q0, std::uint64_t q1, std::mt19937_64& rng) {
  const unsigned __int128 big_q = static_cast<unsigned __int128>(q0) * q1;
  const unsigned __int128 picks[] = {0, 1, big_q - 1, (big_q - 1) / 2, (big_q + 1) / 2, (big_q - 1) / 2 - 1};
  Residues r;
  for (std::size_t j = 0; j < n; ++j) {
    const unsigned __int128 v = j < 6 ? picks[j] : ((static_cast<unsigned __int128>(rng()) << 64) | rng()) % big_q;
    r.value.push_back(v);
    r.r0.push_back(static_cast<std::uint64_t>(v % q0));
    r.r1.push_back(static_cast<std::uint64_t>(v % q1));
  }
  return r;
}

}  // namespace

TEST(ComposedGadget, DigitsRecomposeTheCoefficientModQ) {
  std::mt19937_64 rng(71);
  const auto primes = generate_ntt_primes(27, 2, 2048);
  for (const auto& [q0, q1] : {std::pair{primes[0], primes[1]}, std::pair{primes[1], primes[0]}}) {
    const unsigned __int128 big_q = static_cast<unsigned __int128>(q0) * q1;
    for (const auto& [w, levels] : {std::pair{18, std::size_t{3}}, std::pair{27, std::size_t{2}},
                                    std::pair{14, std::size_t{4}}, std::pair{6, std::size_t{9}},
                                    std::pair{5, std::size_t{11}}}) {
      const ComposedGadget g{q0, q1, w, levels};
      const ComposedShape s = composed_gadget_shape(g);
      const std::uint64_t bound = composed_digit_bound(g);
      ASSERT_LT(bound, std::min(q0, q1));
      for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{13}, std::size_t{2048}}) {
        const Residues c = random_coefficients(n, q0, q1, rng);
        std::vector<std::vector<std::uint32_t>> want(2 * levels, std::vector<std::uint32_t>(n));
        std::vector<std::uint32_t*> want_p;
        for (auto& v : want) want_p.push_back(v.data());
        composed_digits_lift_u32_reference(c.r0.data(), c.r1.data(), s, levels, want_p.data(), n);
        for (std::size_t j = 0; j < n; ++j) {
          // The balanced digits of the centred coefficient, computed here on
          // 128-bit integers, lifted to each prime.
          __int128 x = c.value[j] > big_q / 2 ? static_cast<__int128>(c.value[j]) - static_cast<__int128>(big_q)
                                              : static_cast<__int128>(c.value[j]);
          const __int128 radix = static_cast<__int128>(1) << w, half = radix / 2;
          for (std::size_t t = 0; t < levels; ++t) {
            __int128 d = x;
            if (t + 1 < levels) {
              d = ((x % radix) + radix) % radix;
              if (d >= half) d -= radix;
              x = (x - d) / radix;
            }
            ASSERT_LE(d < 0 ? -d : d, static_cast<__int128>(bound)) << "digit " << t;
            const auto lift = [&](std::uint64_t q) { return static_cast<std::uint32_t>(d < 0 ? d + q : d); };
            ASSERT_EQ(want[2 * t][j], lift(q0)) << "j " << j << " digit " << t << " w " << w;
            ASSERT_EQ(want[2 * t + 1][j], lift(q1)) << "j " << j << " digit " << t << " w " << w;
          }
        }
        for (int set = 0; set < 3; ++set) {
          use_kernel_set(set);
          for (const std::size_t count : {levels, levels - 1}) {
            std::vector<std::vector<std::uint32_t>> got(2 * levels, std::vector<std::uint32_t>(n, 5));
            std::vector<std::uint32_t*> got_p;
            for (auto& v : got) got_p.push_back(v.data());
            composed_digits_lift_u32(c.r0.data(), c.r1.data(), s, count, got_p.data(), n);
            for (std::size_t t = 0; t < 2 * count; ++t)
              ASSERT_EQ(got[t], want[t]) << "set " << set << " n " << n << " word " << t << " w " << w;
            for (std::size_t t = 2 * count; t < 2 * levels; ++t)
              ASSERT_EQ(got[t], std::vector<std::uint32_t>(n, 5)) << "wrote a digit past count";
          }
        }
        use_kernel_set(0);
        set_simd_enabled(true);
        set_avx512_enabled(true);
      }
    }
  }
}

TEST(ComposedGadget, TopDigitTransformFromTheOthers) {
  std::mt19937_64 rng(72);
  const std::size_t n = 2048;
  const auto primes = generate_ntt_primes(27, 2, n);
  const std::uint64_t q0 = primes[0], q1 = primes[1];
  const int w = 18;
  const ComposedShape s = composed_gadget_shape(ComposedGadget{q0, q1, w, 3});
  const Residues c = random_coefficients(n, q0, q1, rng);
  std::vector<std::vector<std::uint32_t>> digits(6, std::vector<std::uint32_t>(n));
  std::vector<std::uint32_t*> p;
  for (auto& v : digits) p.push_back(v.data());
  composed_digits_lift_u32_reference(c.r0.data(), c.r1.data(), s, 3, p.data(), n);
  for (int l = 0; l < 2; ++l) {
    const std::uint64_t q = l == 0 ? q0 : q1;
    const NttTables tables(n, Modulus(q));
    std::vector<std::uint64_t> c_ntt = l == 0 ? c.r0 : c.r1;
    ntt_forward_reference(c_ntt.data(), tables);
    std::vector<std::vector<std::uint32_t>> t(3);
    for (int d = 0; d < 3; ++d) {
      std::vector<std::uint64_t> wide(digits[2 * d + l].begin(), digits[2 * d + l].end());
      ntt_forward_reference(wide.data(), tables);
      t[d].assign(wide.begin(), wide.end());
    }
    std::uint64_t base = (std::uint64_t{1} << w) % q, inv = 1;
    for (int b = 0; b < 2 * w; ++b) inv = inv * ((q + 1) / 2) % q;
    for (int set = 0; set < 3; ++set) {
      use_kernel_set(set);
      std::vector<std::uint32_t> top(n, 9);
      composed_top_digit_ntt_u32(c_ntt.data(), t[0].data(), t[1].data(), static_cast<std::uint32_t>(base),
                                 static_cast<std::uint32_t>(inv), top.data(), n, static_cast<std::uint32_t>(q));
      ASSERT_EQ(top, t[2]) << "prime " << l << " set " << set;
      // Tails: sizes that are not whole vectors.
      for (const std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{13}}) {
        std::vector<std::uint32_t> got(size), want(size);
        composed_top_digit_ntt_u32(c_ntt.data(), t[0].data(), t[1].data(), static_cast<std::uint32_t>(base),
                                   static_cast<std::uint32_t>(inv), got.data(), size, static_cast<std::uint32_t>(q));
        composed_top_digit_ntt_u32_reference(c_ntt.data(), t[0].data(), t[1].data(), static_cast<std::uint32_t>(base),
                                             static_cast<std::uint32_t>(inv), want.data(), size,
                                             static_cast<std::uint32_t>(q));
        ASSERT_EQ(got, want);
      }
    }
    set_simd_enabled(true);
    set_avx512_enabled(true);
  }
}
