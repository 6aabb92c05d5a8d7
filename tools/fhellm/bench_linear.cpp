// fhellm bench linear: the real encrypted matrix product on random 8-bit data.
// Prints server time, client encrypt/decrypt time, bytes and bits per value
// up and down, and the largest error against the integer product of the run.
// Best of --repeat runs (the machine is shared: take the best).
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <ctime>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "he/linear.h"
#include "he/linear_reference.h"

namespace fhellm::cli {
namespace {

struct BenchLinearArgs {
  std::uint32_t in = 768, out = 768, rows = 1;
  std::string precision = "default";
  bool json = false, signed_input = false, plan_only = false, candidates = false;
  std::size_t repeat = 3, threads = 2;
  std::uint64_t seed = 1;
  int privacy_bits = 0;  // the server's weight privacy (he::plan_linear)
  std::string token;  // a model's calls per generated token instead of one shape
};

// The remote calls of one generated token (T = 1) of a named model shape:
// (k, n, calls per token). GPT-2: 12 blocks of qkv, attention out, fc, proj,
// then the LM head; Llama-3.2-1B: 16 blocks of qkv (2048 -> 2048 + 2 x 512),
// o, gate+up (2 x 8192), down, then the LM head.
struct TokenCall {
  std::uint32_t in, out, count;
};
std::vector<TokenCall> token_calls(const std::string& name) {
  if (name == "gpt2-124m")
    return {{768, 2304, 12}, {768, 768, 12}, {768, 3072, 12}, {3072, 768, 12}, {768, 50257, 1}};
  if (name == "llama-3.2-1b")
    return {{2048, 3072, 16}, {2048, 2048, 16}, {2048, 16384, 16}, {8192, 2048, 16}, {2048, 128256, 1}};
  throw Error(ErrorCode::invalid_argument, "unknown token shape '" + name + "' (gpt2-124m|llama-3.2-1b)");
}

// Measured figures of one shape (best of the repeats).
struct ShapeFigures {
  double server_ms = 0, server_cpu_ms = 0, encrypt_ms = 0, decrypt_ms = 0, keygen_ms = 0, encode_ms = 0;
  std::size_t up = 0, down = 0, key_bytes = 0;
  std::int64_t max_err = 0;
};

// CPU time of the process (all threads): the machine is shared, so wall time
// includes waiting for a core; both are reported.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// exact | default, and the online mode's mask products (mask-pow2 | mask-odd).
he::LinearPrecision parse_bench_precision(const std::string& name) {
  if (name == "mask-pow2") return he::LinearPrecision::mask_pow2;
  if (name == "mask-odd") return he::LinearPrecision::mask_odd;
  return he::parse_linear_precision(name);
}

// |y - expect| mod t, centred: 0 when the mask product is exact mod t.
std::int64_t residue_error(std::int64_t y, std::int64_t expect, std::uint64_t t) {
  const auto m = static_cast<std::int64_t>(t);
  std::int64_t d = (y - expect) % m;
  if (d < 0) d += m;
  return std::min(d, m - d);
}

ShapeFigures run_shape(const BenchLinearArgs& a, he::LinearShape shape, const he::LinearPlan& plan) {
  using clock = std::chrono::steady_clock;
  const he::LinearPrecision prec = plan.precision;
  const bool mask = he::linear_is_mask_precision(prec);
  std::mt19937_64 rng(a.seed);
  std::uniform_int_distribution<int> wd(-128, 127), xd(a.signed_input ? -128 : 0, a.signed_input ? 127 : 255);
  if (mask) xd = std::uniform_int_distribution<int>(0, static_cast<int>(plan.plain_modulus - 1));
  std::vector<std::int8_t> w(std::size_t{shape.out} * shape.in);
  for (auto& v : w) v = static_cast<std::int8_t>(wd(rng));
  std::vector<std::int32_t> x(std::size_t{shape.rows} * shape.in);
  for (auto& v : x) v = xd(rng);

  auto t0 = clock::now();
  const he::LinearClient client({plan.param_id});
  const he::LinearServerKeys keys = client.server_keys();
  const std::size_t key_bytes = keys.save().size();
  const double keygen_ms = ms_since(t0);
  t0 = clock::now();
  const he::LinearPrecision precisions[] = {he::linear_encoding_precision(prec)};
  const he::EncodedWeights weights(w, shape.out, shape.in, precisions, a.threads, a.privacy_bits);
  const double encode_ms = ms_since(t0);

  double best_server = 1e300, best_enc = 1e300, best_dec = 1e300, best_server_cpu = 1e300;
  std::size_t up = 0, down = 0;
  std::int64_t max_err = 0;
  const auto expect = he::clear::matmul(shape.rows, shape.in, shape.out, x.data(), w.data());
  for (std::size_t rep = 0; rep < std::max<std::size_t>(1, a.repeat); ++rep) {
    t0 = clock::now();
    std::vector<std::uint8_t> upload;
    if (mask) {
      std::vector<std::uint32_t> xr(x.begin(), x.end());
      upload = client.encrypt_mask(xr, shape, prec, a.privacy_bits);
    } else if (a.signed_input) {
      std::vector<std::int8_t> xs(x.begin(), x.end());
      upload = client.encrypt(std::span<const std::int8_t>(xs), shape, prec, a.privacy_bits);
    } else {
      std::vector<std::uint8_t> xu(x.begin(), x.end());
      upload = client.encrypt(std::span<const std::uint8_t>(xu), shape, prec, a.privacy_bits);
    }
    best_enc = std::min(best_enc, ms_since(t0));
    t0 = clock::now();
    const double cpu0 = thread_cpu_ms();
    const auto reply = he::linear_evaluate(upload, weights, keys, a.threads);
    best_server_cpu = std::min(best_server_cpu, thread_cpu_ms() - cpu0);
    best_server = std::min(best_server, ms_since(t0));
    t0 = clock::now();
    const auto y = client.decrypt(reply);
    best_dec = std::min(best_dec, ms_since(t0));
    up = upload.size();
    down = reply.size();
    for (std::size_t i = 0; i < y.size(); ++i)
      max_err = std::max(max_err, mask ? residue_error(y[i], expect[i], plan.plain_modulus) : std::abs(y[i] - expect[i]));
  }
  ShapeFigures f;
  f.server_ms = best_server;
  f.server_cpu_ms = best_server_cpu;
  f.encrypt_ms = best_enc;
  f.decrypt_ms = best_dec;
  f.keygen_ms = keygen_ms;
  f.encode_ms = encode_ms;
  f.up = up;
  f.down = down;
  f.key_bytes = key_bytes;
  f.max_err = max_err;
  return f;
}

// --token: every call of one generated token, the models (--plan-only) or
// the measured figures of each shape, and the per-token sums.
void run_bench_token(const BenchLinearArgs& a) {
  const he::LinearPrecision prec = he::parse_linear_precision(a.precision);
  double up = 0, down = 0, server = 0, model_ms = 0, inputs = 0, outputs = 0, weights = 0, weight_bytes = 0;
  double privacy_nats = 0;  // bound on what one token's replies tell about W beyond X W^T
  std::size_t key_switches = 0, products = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const TokenCall& c : token_calls(a.token)) {
    const he::LinearShape shape{1, c.in, c.out};
    const he::LinearPlan plan = he::plan_linear(shape, prec, a.signed_input, a.privacy_bits);
    nlohmann::json row = {{"in", c.in}, {"out", c.out}, {"calls", c.count}, {"plan", he::describe(plan)},
                          {"model_bytes_up", plan.bytes_up()}, {"model_bytes_down", plan.bytes_down()},
                          {"key_switches", plan.key_switches()}, {"products", plan.products()},
                          {"server_ms_model", plan.server_ms_model()},
                          {"privacy_nats_per_value", plan.weight_privacy_nats()},
                          {"weight_bytes", plan.weight_bytes()},
                          {"weight_bytes_per_weight", static_cast<double>(plan.weight_bytes()) / (double(c.in) * c.out)}};
    double call_up = static_cast<double>(plan.bytes_up()), call_down = static_cast<double>(plan.bytes_down());
    if (!a.plan_only) {
      const ShapeFigures f = run_shape(a, shape, plan);
      call_up = static_cast<double>(f.up);
      call_down = static_cast<double>(f.down);
      server += c.count * f.server_ms;
      row["server_ms"] = f.server_ms;
      row["server_cpu_ms"] = f.server_cpu_ms;
      row["max_abs_error"] = f.max_err;
      row["error_floor"] = plan.error_floor;
      row["bytes_up"] = f.up;
      row["bytes_down"] = f.down;
    }
    up += c.count * call_up;
    down += c.count * call_down;
    model_ms += c.count * plan.server_ms_model();
    key_switches += c.count * plan.key_switches();
    products += c.count * plan.products();
    weights += c.count * static_cast<double>(c.in) * c.out;
    weight_bytes += c.count * static_cast<double>(plan.weight_bytes());
    inputs += c.count * static_cast<double>(c.in);
    outputs += c.count * static_cast<double>(c.out);
    privacy_nats += c.count * static_cast<double>(c.out) * plan.weight_privacy_nats();
    if (!a.json) {
      std::printf("%5u -> %-6u x%-2u up %7.0f down %7.0f bytes", c.in, c.out, c.count, call_up, call_down);
      if (!a.plan_only) std::printf(" server %7.2f ms", row["server_ms"].get<double>());
      std::printf("  %s\n", he::describe(plan).c_str());
    }
    rows.push_back(row);
  }
  nlohmann::json j = {{"token", a.token}, {"precision", a.precision}, {"privacy_bits", a.privacy_bits},
                      {"privacy_nats_per_token", privacy_nats},
                      {"bytes_up_per_token", up}, {"bytes_down_per_token", down},
                      {"bits_up_per_input", 8 * up / inputs}, {"bits_down_per_output", 8 * down / outputs},
                      {"key_switches_per_token", key_switches}, {"products_per_token", products},
                      {"server_ms_model_per_token", model_ms}, {"weight_bytes", weight_bytes},
                      {"weight_bytes_per_weight", weight_bytes / weights}, {"calls", rows}};
  if (!a.plan_only) j["server_ms_per_token"] = server;
  if (a.json) {
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("per token: up %.3f MB (%.1f bits per input value), down %.3f MB (%.1f bits per output value), "
              "total %.3f MB; %zu key switches, %zu products; server model %.0f ms single-core",
              up / 1e6, 8 * up / inputs, down / 1e6, 8 * down / outputs, (up + down) / 1e6, key_switches, products,
              model_ms);
  std::printf("\nweight privacy %d bits: at most %.3g nats per token about W beyond X W^T (sum over values)",
              a.privacy_bits, privacy_nats);
  if (!a.plan_only) std::printf(", measured %.0f ms (%zu threads)", server, a.threads);
  std::printf("\nserver weights: %.0f MB encoded for %.1f M weights (%.2f bytes per weight)\n", weight_bytes / 1e6,
              weights / 1e6, weight_bytes / weights);
}

void run_bench_linear(const BenchLinearArgs& a) {
  if (!a.token.empty()) return run_bench_token(a);
  const he::LinearPrecision prec = parse_bench_precision(a.precision);
  const he::LinearShape shape{a.rows, a.in, a.out};
  const he::LinearPlan plan = he::plan_linear(shape, prec, a.signed_input, a.privacy_bits);
  if (a.candidates) {
    // Every feasible layout, best first (the first is the one the library uses).
    for (const he::LinearPlan& p : he::linear_plan_candidates(shape, prec, a.signed_input, a.privacy_bits))
      std::printf("score %8.1f  up %8zu  down %8zu  time_model %7.1f ms  %s\n", he::linear_plan_score(p),
                  p.bytes_up(), p.bytes_down(), p.server_ms_model(), he::describe(p).c_str());
    return;
  }
  if (a.plan_only) {
    // The models only (docs/linear.md): no keys, no encryption.
    const double nb = plan.noise.bound();
    std::printf("%s\n  model: bytes_up %zu (%.1f bits/value) bytes_down %zu (%.1f bits/value) products %zu "
                "key_switches %zu server_ms_model %.1f weights %.2f MB (%.2f bytes per weight)\n  noise: bound %.3g allowed %.3g (log2 %.1f / %.1f) "
                "upload %.3g packing %.3g body %.3g mask %.3g flood %.3g (std, phase units)\n",
                he::describe(plan).c_str(), plan.bytes_up(), 8.0 * plan.bytes_up() / (double(a.rows) * a.in),
                plan.bytes_down(), 8.0 * plan.bytes_down() / (double(a.rows) * a.out), plan.products(),
                plan.key_switches(), plan.server_ms_model(), static_cast<double>(plan.weight_bytes()) / 1e6,
                static_cast<double>(plan.weight_bytes()) / (double(a.in) * a.out), nb, plan.noise.allowed, std::log2(nb),
                std::log2(plan.noise.allowed), std::sqrt(plan.noise.upload), std::sqrt(plan.noise.packing),
                std::sqrt(plan.noise.download_body), std::sqrt(plan.noise.download_mask), std::sqrt(plan.noise.flood));
    return;
  }

  const ShapeFigures f = run_shape(a, shape, plan);
  const std::size_t up = f.up, down = f.down;
  const std::int64_t max_err = f.max_err;
  const double best_server = f.server_ms, best_server_cpu = f.server_cpu_ms, best_enc = f.encrypt_ms,
               best_dec = f.decrypt_ms, keygen_ms = f.keygen_ms, encode_ms = f.encode_ms;
  const std::size_t key_bytes = f.key_bytes;
  const double in_values = static_cast<double>(a.rows) * a.in, out_values = static_cast<double>(a.rows) * a.out;
  const double bits_up = 8.0 * up / in_values, bits_down = 8.0 * down / out_values;
  if (a.json) {
    nlohmann::json j = {{"in", a.in},
                        {"out", a.out},
                        {"rows", a.rows},
                        {"precision", a.precision},
                        {"signed", a.signed_input},
                        {"server_ms", best_server},
                        {"server_cpu_ms", best_server_cpu},
                        {"client_ms", best_enc + best_dec},
                        {"client_encrypt_ms", best_enc},
                        {"client_decrypt_ms", best_dec},
                        {"bytes_up", up},
                        {"bytes_down", down},
                        {"bits_up_per_value", bits_up},
                        {"bits_down_per_value", bits_down},
                        {"max_abs_error", max_err},
                        {"max_abs_bound", plan.max_abs_output},
                        {"error_floor", plan.error_floor},
                        {"key_switches", plan.key_switches()},
                        {"products", plan.products()},
                        {"weight_bytes", plan.weight_bytes()},
                        {"model_bytes_up", plan.bytes_up()},
                        {"model_bytes_down", plan.bytes_down()},
                        {"server_keys_bytes", key_bytes},
                        {"keygen_ms", keygen_ms},
                        {"weights_encode_ms", encode_ms},
                        {"repeat", a.repeat},
                        {"threads", a.threads},
                        {"privacy_bits", a.privacy_bits},
                        {"privacy_nats_per_value", plan.weight_privacy_nats()},
                        {"plan", he::describe(plan)}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("linear %u -> %u, T=%u, %s precision (best of %zu)\n", a.in, a.out, a.rows, a.precision.c_str(), a.repeat);
  std::printf("  plan     %s\n", he::describe(plan).c_str());
  std::printf("  server   %.2f ms wall, %.2f ms CPU (%zu products, %zu key switches)\n", best_server, best_server_cpu,
              plan.products(), plan.key_switches());
  std::printf("  client   encrypt %.2f ms, decrypt %.2f ms\n", best_enc, best_dec);
  std::printf("  up       %zu bytes (%.1f bits per input value)\n", up, bits_up);
  std::printf("  down     %zu bytes (%.1f bits per output value)\n", down, bits_down);
  std::printf("  error    max |error| %lld (floor %lld, max |XW^T| %lld)\n", static_cast<long long>(max_err),
              static_cast<long long>(plan.error_floor), static_cast<long long>(plan.max_abs_output));
  std::printf("  setup    keys %zu bytes in %.0f ms; weights encoded in %.0f ms\n", key_bytes, keygen_ms, encode_ms);
}

}  // namespace

void register_bench_linear(CLI::App& bench) {
  auto args = std::make_shared<BenchLinearArgs>();
  auto* cmd = bench.add_subcommand("linear", "Encrypted matrix product: time, traffic, error");
  cmd->add_option("--in", args->in, "input width k (1..8192)")->capture_default_str();
  cmd->add_option("--out", args->out, "output width n (1..131072)")->capture_default_str();
  cmd->add_option("--rows", args->rows, "rows T (1..512)")->capture_default_str();
  cmd->add_option("--precision", args->precision, "exact | default | mask-pow2 | mask-odd (the online mode's offline products)")
      ->capture_default_str();
  cmd->add_flag("--signed", args->signed_input, "int8 activations instead of uint8");
  cmd->add_option("--privacy-bits", args->privacy_bits,
                  "weight privacy S: the reply's flood is 2^S times the weight-dependent noise (docs/linear.md section 6)")
      ->capture_default_str()
      ->check(CLI::Range(0, he::kLinearMaxPrivacyBits));
  cmd->add_option("--repeat", args->repeat, "runs; the best is reported")->capture_default_str();
  cmd->add_option("--seed", args->seed, "data seed")->capture_default_str();
  cmd->add_option("--threads", args->threads, "server threads for the call")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->add_flag("--plan-only", args->plan_only, "print the layout and its cost/noise models without running");
  cmd->add_flag("--candidates", args->candidates, "print every feasible layout with its models, best first");
  cmd->add_option("--token", args->token,
                  "every call of one generated token of a model shape (gpt2-124m | llama-3.2-1b), and the sums");
  cmd->callback([args] { run_bench_linear(*args); });
}

}  // namespace fhellm::cli
