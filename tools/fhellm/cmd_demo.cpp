// fhellm demo: the RLWE core end to end, in one process. The "client"
// encrypts a random int8 row x (K values) with seeded uploads; the "server"
// multiplies it by a random int8 matrix W (K x M) under encryption with the
// simplest correct method: for output j, chunk c of the row (N values in one
// ciphertext) is multiplied by the weight polynomial
//   w_{j,c}(X) = sum_i W[c N + i][j] X^(N-1-i)     (the row, reversed),
// whose product with x_c(X) holds sum_i x_i W[i][j] in coefficient N-1 (no
// wrap-around: every index pair sums to exactly N-1 there). Products of all
// chunks are summed in the NTT domain, the sum is modulus-switched (mask and
// body separately) and "sent back"; the client decrypts coefficient N-1 and
// checks it against the clear integer product. Prints what each side would
// send. Not the production matrix product (one ciphertext per output), but
// exact and simple.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "fhellm/error.h"
#include "he/accumulator.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/serialization.h"

namespace fhellm::cli {
namespace {

struct DemoArgs {
  std::size_t in = 256;
  std::size_t out = 16;
  std::uint64_t seed = 0;  // 0: random
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void run_demo(const DemoArgs& a) {
  require(a.in >= 1 && a.in <= 65536, ErrorCode::invalid_argument, "--in must be in [1, 65536]");
  require(a.out >= 1 && a.out <= 4096, ErrorCode::invalid_argument, "--out must be in [1, 4096]");
  using namespace fhellm::he;
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const std::size_t n = ctx->poly_degree();
  const std::size_t k = a.in, m = a.out, chunks = (k + n - 1) / n;

  std::mt19937_64 rng(a.seed != 0 ? a.seed : std::random_device{}());
  auto int8 = [&] { return static_cast<std::int64_t>(rng() % 256) - 128; };
  std::vector<std::int64_t> x(k);
  for (auto& v : x) v = int8();
  std::vector<std::int64_t> w(k * m);  // row-major K x M
  for (auto& v : w) v = int8();

  // Plain modulus: |y| <= 128 * 128 * K must be a valid message.
  const double y_max = 128.0 * 128.0 * static_cast<double>(k);
  const int log_t = static_cast<int>(std::ceil(std::log2(2 * y_max + 2))) + 1;
  const std::uint64_t t = std::uint64_t{1} << log_t;
  const Scale scale = Scale::from_plain_modulus(*ctx, t);
  require(static_cast<double>(scale.max_message()) >= y_max, ErrorCode::internal_error, "plain modulus too small");
  // Download moduli (docs/noise.md, section 4): the body needs ~t, the mask
  // ~t * sqrt(||s||_1); 2^4 and 2^12 of headroom keep the error < 1/8 of the limit.
  const std::uint64_t q_body = std::uint64_t{1} << (log_t + 4);
  const std::uint64_t q_mask = std::uint64_t{1} << (log_t + 12);

  // Client: key, encryption of the row (seeded upload).
  auto t0 = std::chrono::steady_clock::now();
  const SecretKey sk = SecretKey::generate(*ctx);
  Encryptor enc(ctx, sk);
  std::vector<std::vector<std::uint8_t>> uploads;
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t len = std::min(n, k - c * n);
    uploads.push_back(save(enc.encrypt_seeded(x.data() + c * n, len, scale), *ctx));
  }
  const double client_encrypt_ms = ms_since(t0);

  // Server: load, weights to NTT once, products, modulus switch.
  t0 = std::chrono::steady_clock::now();
  std::vector<Ciphertext> cts;
  for (const auto& bytes : uploads) cts.push_back(expand(*ctx, load_seeded_ciphertext(*ctx, bytes)));
  std::vector<PlaintextNtt> weights;  // (j, c) -> reversed chunk of column j
  std::vector<std::int64_t> poly(n);
  for (std::size_t j = 0; j < m; ++j) {
    for (std::size_t c = 0; c < chunks; ++c) {
      std::fill(poly.begin(), poly.end(), 0);
      const std::size_t len = std::min(n, k - c * n);
      for (std::size_t i = 0; i < len; ++i) poly[n - 1 - i] = w[(c * n + i) * m + j];
      weights.push_back(PlaintextNtt::encode(*ctx, poly.data(), n));
    }
  }
  const double server_prepare_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  Evaluator eval(ctx);
  CiphertextAccumulator acc(ctx);
  std::vector<std::vector<std::uint8_t>> replies;
  for (std::size_t j = 0; j < m; ++j) {
    acc.reset();
    for (std::size_t c = 0; c < chunks; ++c) acc.multiply_add(cts[c], weights[j * chunks + c]);
    replies.push_back(save(eval.switch_modulus(acc.result(), q_body, q_mask)));
  }
  const double server_compute_ms = ms_since(t0);

  // Client: decrypt coefficient N-1 of each reply, compare with the clear product.
  t0 = std::chrono::steady_clock::now();
  Decryptor dec(ctx, sk);
  std::size_t mismatches = 0;
  std::int64_t largest = 0;
  double worst_budget = 1e9;
  std::vector<std::int64_t> y(m);
  for (std::size_t j = 0; j < m; ++j) {
    const Decrypted d = dec.decrypt(load_switched_ciphertext(*ctx, replies[j]), scale);
    y[j] = d.message[n - 1];
    worst_budget = std::min(worst_budget, d.noise_budget_bits);
    std::int64_t expect = 0;
    for (std::size_t i = 0; i < k; ++i) expect += x[i] * w[i * m + j];
    mismatches += y[j] != expect;
    largest = std::max(largest, std::abs(expect));
  }
  const double client_decrypt_ms = ms_since(t0);

  std::size_t up = 0, down = 0;
  for (const auto& b : uploads) up += b.size();
  for (const auto& b : replies) down += b.size();
  std::printf("fhellm demo: encrypted int8 row (K=%zu) x int8 matrix (K x %zu), parameter set %s "
              "(N=%zu, log2 Q=%.1f, t=2^%d)\n",
              k, m, std::string(ctx->params().name).c_str(), n, ctx->coeff_basis().log2_product(), log_t);
  std::printf("result  y[0..%zu) = [", std::min<std::size_t>(m, 8));
  for (std::size_t j = 0; j < std::min<std::size_t>(m, 8); ++j) std::printf(j ? ", %lld" : "%lld", static_cast<long long>(y[j]));
  std::printf("%s]  largest |y| %lld\n", m > 8 ? ", ..." : "", static_cast<long long>(largest));
  std::printf("check   %s: %zu of %zu outputs equal the clear integer product (min noise budget %.1f bits)\n",
              mismatches == 0 ? "OK" : "FAILED", m - mismatches, m, worst_budget);
  std::printf("upload  %zu bytes (%zu seeded ciphertext%s of %zu bytes, %.1f bits per input value)\n", up, chunks,
              chunks == 1 ? "" : "s", uploads[0].size(), 8.0 * static_cast<double>(up) / static_cast<double>(k));
  std::printf("reply   %zu bytes (%zu switched ciphertexts of %zu bytes: body 2^%d, mask 2^%d; %.0f bits per output "
              "value with this one-ciphertext-per-output method)\n",
              down, m, replies[0].size(), log_t + 4, log_t + 12, 8.0 * static_cast<double>(down) / static_cast<double>(m));
  std::printf("time    client encrypt %.1f ms, server weights->NTT %.1f ms, server products+switch %.1f ms, client "
              "decrypt %.1f ms\n",
              client_encrypt_ms, server_prepare_ms, server_compute_ms, client_decrypt_ms);
  require(mismatches == 0, ErrorCode::internal_error, std::to_string(mismatches) + " outputs decrypted wrong");
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "Encrypt an int8 row, multiply it by an int8 matrix under encryption, decrypt and check");
  cmd->add_option("--in", args->in, "row length K (inputs)")->capture_default_str();
  cmd->add_option("--out", args->out, "matrix columns (outputs)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the random row and matrix (0: random)")->capture_default_str();
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace fhellm::cli
