// fhellm bench lookup: the encrypted embedding lookup (docs/embedding.md) on
// a random int8 table of a model's shape: server time (wall and CPU), client
// encrypt / decrypt time, bytes up and down, encode time and the table's
// encoded bytes; every decrypted value is checked against the table. Best of
// --repeat runs (the machine is shared: take the best). With --mask, the
// online mode's offline table product instead (docs/online.md section 10):
// rows of residues r mod 2^8 times the same encoding, checked against r E mod 2^8.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "he/lookup.h"

namespace fhellm::cli {
namespace {

struct BenchLookupArgs {
  std::string shape;
  std::uint32_t table_rows = 50257, width = 768, rows = 1;
  std::size_t repeat = 3, threads = 2;
  std::uint64_t seed = 1;
  bool json = false, plan_only = false, mask = false;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void apply_shape(BenchLookupArgs& a) {
  if (a.shape.empty()) return;
  if (a.shape == "gpt2-124m") {
    a.table_rows = 50257;
    a.width = 768;
  } else if (a.shape == "llama-3.2-1b") {
    a.table_rows = 128256;
    a.width = 2048;
  } else if (a.shape == "gpt2-positions") {
    a.table_rows = 1024;
    a.width = 768;
  } else {
    throw Error(ErrorCode::bad_command_line,
                "bench lookup: unknown shape '" + a.shape + "' (gpt2-124m, llama-3.2-1b, gpt2-positions)");
  }
}

std::vector<std::int8_t> random_table(const BenchLookupArgs& a, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<std::int8_t> table(std::size_t{a.table_rows} * a.width);
  for (auto& v : table) v = static_cast<std::int8_t>(d(rng));
  return table;
}

// Best of `repeat` round trips (encrypt, evaluate on the server, decrypt),
// each phase timed; wrong_values: what `count_wrong` found in the last one.
template <class Encrypt, class Evaluate, class Decrypt, class CountWrong>
nlohmann::json best_round_trip(const BenchLookupArgs& a, Encrypt encrypt, Evaluate evaluate, Decrypt decrypt,
                               CountWrong count_wrong) {
  using clock = std::chrono::steady_clock;
  double server = 1e300, server_cpu = 1e300, enc = 1e300, dec = 1e300;
  std::size_t up = 0, down = 0, wrong = 0;
  for (std::size_t rep = 0; rep < std::max<std::size_t>(1, a.repeat); ++rep) {
    auto t0 = clock::now();
    const auto upload = encrypt();
    enc = std::min(enc, ms_since(t0));
    t0 = clock::now();
    const double cpu0 = process_cpu_ms();
    const auto reply = evaluate(upload);
    server_cpu = std::min(server_cpu, process_cpu_ms() - cpu0);
    server = std::min(server, ms_since(t0));
    t0 = clock::now();
    const auto out = decrypt(reply);
    dec = std::min(dec, ms_since(t0));
    up = upload.size();
    down = reply.size();
    wrong = count_wrong(out);
  }
  return {{"server_ms", server}, {"server_cpu_ms", server_cpu}, {"encrypt_ms", enc}, {"decrypt_ms", dec},
          {"bytes_up", up}, {"bytes_down", down}, {"wrong_values", wrong}, {"threads", a.threads}};
}

// --mask: the table mask product (mask_table rows), timed and checked.
void run_bench_table_mask(const BenchLookupArgs& a) {
  using clock = std::chrono::steady_clock;
  const he::LinearShape shape{a.rows, a.table_rows, a.width};
  const he::LinearPlan plan = he::plan_linear(shape, he::LinearPrecision::mask_table, false, 0);
  nlohmann::json j = {{"table_rows", a.table_rows}, {"width", a.width}, {"rows", a.rows}, {"mask", true},
                      {"plan", he::describe(plan)}, {"model_bytes_up", plan.bytes_up()},
                      {"model_bytes_down", plan.bytes_down()}, {"server_ms_model", plan.server_ms_model()}};
  if (!a.plan_only) {
    std::mt19937_64 rng(a.seed);
    const std::vector<std::int8_t> table = random_table(a, rng);
    std::vector<std::uint32_t> r(std::size_t{a.rows} * a.table_rows);
    for (auto& v : r) v = static_cast<std::uint32_t>(rng() % he::kOnlineTableModulus);
    const he::LinearClient client({he::kLookupParamId});
    const he::LinearServerKeys keys = client.server_keys();
    auto t0 = clock::now();
    const he::EncodedWeights encoded = he::encode_table_masks(table, a.table_rows, a.width, 0, a.threads);
    j.update({{"encode_ms", ms_since(t0)}, {"encoded_bytes", encoded.encoded_bytes()}});
    std::vector<std::int64_t> want(std::size_t{a.rows} * a.width, 0);
    for (std::size_t t = 0; t < a.rows; ++t)
      for (std::size_t v = 0; v < a.table_rows; ++v)
        for (std::size_t c = 0; c < a.width; ++c)
          want[t * a.width + c] += std::int64_t{r[t * a.table_rows + v]} * table[v * a.width + c];
    j.update(best_round_trip(
        a, [&] { return client.encrypt_mask(r, shape, he::LinearPrecision::mask_table, 0); },
        [&](const auto& upload) { return he::linear_evaluate(upload, encoded, keys, a.threads); },
        [&](const auto& reply) { return client.decrypt(reply); },
        [&](const auto& y) {
          std::size_t wrong = 0;
          for (std::size_t i = 0; i < y.size(); ++i) wrong += ((y[i] - want[i]) % 256 + 256) % 256 != 0 ? 1 : 0;
          return wrong;
        }));
    const std::size_t wrong = j["wrong_values"].get<std::size_t>();
    require(wrong == 0, ErrorCode::internal_error,
            "bench lookup --mask: " + std::to_string(wrong) + " values came back wrong");
  }
  if (a.json) {
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("%s\n", he::describe(plan).c_str());
  std::printf("model: %zu B up, %zu B down, %.1f ms single-core\n", plan.bytes_up(), plan.bytes_down(),
              plan.server_ms_model());
  if (a.plan_only) return;
  std::printf("server %.1f ms wall, %.1f ms CPU (%zu threads); client encrypt %.1f ms, decrypt %.1f ms\n",
              j["server_ms"].get<double>(), j["server_cpu_ms"].get<double>(), a.threads,
              j["encrypt_ms"].get<double>(), j["decrypt_ms"].get<double>());
  std::printf("bytes up %zu, down %zu; table encoded in %.0f ms (%.1f MB); all values exact mod 256\n",
              j["bytes_up"].get<std::size_t>(), j["bytes_down"].get<std::size_t>(), j["encode_ms"].get<double>(),
              static_cast<double>(j["encoded_bytes"].get<std::size_t>()) / 1e6);
}

void run_bench_lookup(BenchLookupArgs a) {
  using clock = std::chrono::steady_clock;
  apply_shape(a);
  if (a.mask) return run_bench_table_mask(a);
  const he::LookupShape shape{a.rows, a.table_rows, a.width};
  const he::LookupPlan plan = he::plan_lookup(shape);
  nlohmann::json j = {{"table_rows", a.table_rows}, {"width", a.width}, {"rows", a.rows},
                      {"plan", he::describe(plan)}, {"model_bytes_up", plan.bytes_up()},
                      {"model_bytes_down", plan.bytes_down()}, {"products", plan.products()},
                      {"external_products", plan.external_products()}, {"key_switches", plan.key_switches()},
                      {"server_ms_model", plan.server_ms_model()}, {"weight_bytes", plan.weight_bytes()}};
  if (!a.plan_only) {
    std::mt19937_64 rng(a.seed);
    const std::vector<std::int8_t> table = random_table(a, rng);
    std::vector<std::uint32_t> ids(a.rows);
    for (auto& id : ids) id = static_cast<std::uint32_t>(rng() % a.table_rows);
    auto t0 = clock::now();
    const he::LinearClient client({he::kLookupParamId});
    const he::LinearServerKeys keys = client.server_keys();
    const double keygen_ms = ms_since(t0);
    t0 = clock::now();
    const he::EncodedTable encoded(table, a.table_rows, a.width, 8, a.threads);
    const double encode_ms = ms_since(t0);
    j.update(best_round_trip(
        a, [&] { return client.encrypt_lookup(ids, shape); },
        [&](const auto& upload) { return he::lookup_evaluate(upload, encoded, keys, a.threads); },
        [&](const auto& reply) { return client.decrypt_lookup(reply); },
        [&](const auto& rows) {
          std::size_t wrong = 0;
          for (std::size_t r = 0; r < ids.size(); ++r)
            for (std::size_t c = 0; c < a.width; ++c)
              wrong += rows[r * a.width + c] != table[std::size_t{ids[r]} * a.width + c] ? 1 : 0;
          return wrong;
        }));
    j.update({{"keygen_ms", keygen_ms}, {"encode_ms", encode_ms}, {"encoded_bytes", encoded.encoded_bytes()}});
    const std::size_t wrong = j["wrong_values"].get<std::size_t>();
    require(wrong == 0, ErrorCode::internal_error, "bench lookup: " + std::to_string(wrong) + " values came back wrong");
  }
  if (a.json) {
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("%s\n", he::describe(plan).c_str());
  std::printf("model: %zu B up, %zu B down, %.1f ms single-core, table %.1f MB encoded\n", plan.bytes_up(),
              plan.bytes_down(), plan.server_ms_model(), static_cast<double>(plan.weight_bytes()) / 1e6);
  if (a.plan_only) return;
  std::printf("server %.1f ms wall, %.1f ms CPU (%zu threads); client encrypt %.1f ms, decrypt %.1f ms\n",
              j["server_ms"].get<double>(), j["server_cpu_ms"].get<double>(), a.threads,
              j["encrypt_ms"].get<double>(), j["decrypt_ms"].get<double>());
  std::printf("bytes up %zu, down %zu; keys made in %.0f ms; table encoded in %.0f ms (%.1f MB); all values exact\n",
              j["bytes_up"].get<std::size_t>(), j["bytes_down"].get<std::size_t>(), j["keygen_ms"].get<double>(),
              j["encode_ms"].get<double>(), static_cast<double>(j["encoded_bytes"].get<std::size_t>()) / 1e6);
}

}  // namespace

void register_bench_lookup(CLI::App& bench) {
  auto args = std::make_shared<BenchLookupArgs>();
  auto* cmd = bench.add_subcommand("lookup", "The encrypted embedding lookup on a random table of a model's shape");
  cmd->add_option("--shape", args->shape, "gpt2-124m, llama-3.2-1b or gpt2-positions (instead of --vocab/--width)");
  cmd->add_option("--vocab", args->table_rows, "table rows")->capture_default_str();
  cmd->add_option("--width", args->width, "values per row (the model's dim)")->capture_default_str();
  cmd->add_option("--rows", args->rows, "ids per call (a prompt's length)")->capture_default_str();
  cmd->add_option("--repeat", args->repeat, "runs; the best is reported")->capture_default_str();
  cmd->add_option("--threads", args->threads, "server threads")->capture_default_str();
  cmd->add_option("--seed", args->seed, "table and id seed")->capture_default_str();
  cmd->add_flag("--plan-only", args->plan_only, "print the plan and its models only");
  cmd->add_flag("--mask", args->mask,
                "the online mode's offline table product (rows of residues mod 256 times the table) instead");
  cmd->add_flag("--json", args->json, "one JSON object");
  cmd->callback([args] { run_bench_lookup(*args); });
}

}  // namespace fhellm::cli
