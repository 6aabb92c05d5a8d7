#include "hybrid/simulate_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "common/thread_pool.h"
#include "he/linear_error_model.h"
#include "quant/int_matmul.h"

namespace fhellm::hybrid {

QuantizedLinears::QuantizedLinears(const model::Model& model, const std::vector<LinearId>& ids,
                                   quant::QuantOptions options, const ProgressCallback& progress)
    : n_layers_(model.config().n_layers), options_(options), ids_(ids) {
  options_.validate();
  by_slot_.resize(model::linear_slot_count(n_layers_));
  for (LinearId id : ids) {  // validates every id before any work
    const model::LinearView v = model.linear(id);
    require(v.weight != nullptr, ErrorCode::invalid_argument,
            model::linear_name(id) + ": this model does not hold its weights (they are on the server): they cannot "
            "be quantized here for simulate; run it in execute mode");
    require(v.n_in <= quant::kMaxIntMatmulInputs, ErrorCode::bad_quantization,
            model::linear_name(id) + ": " + std::to_string(v.n_in) + " inputs exceed the exact integer product's " +
                std::to_string(quant::kMaxIntMatmulInputs));
  }
  // One quantization per distinct matrix (a tied head is the token table):
  // owner[d] is the first id whose weight is distinct matrix d.
  std::vector<const float*> distinct;
  std::vector<LinearId> owner;
  for (LinearId id : ids) {
    const float* w = model.linear(id).weight;
    if (std::find(distinct.begin(), distinct.end(), w) != distinct.end()) continue;
    distinct.push_back(w);
    owner.push_back(id);
  }
  std::vector<std::shared_ptr<const quant::QuantizedWeights>> quantized(distinct.size());
  std::atomic<std::size_t> done{0};
  parallel_for(distinct.size(), 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t d = begin; d < end; ++d) {
      const model::LinearView v = model.linear(owner[d]);
      quantized[d] = std::make_shared<const quant::QuantizedWeights>(
          quant::quantize_weights_per_channel(v.weight, v.n_out, v.n_in, options_.weight_bits));
      if (progress) progress(++done, distinct.size());  // Progress is thread-safe
    }
  });
  for (LinearId id : ids) {
    const auto d = std::find(distinct.begin(), distinct.end(), model.linear(id).weight) - distinct.begin();
    by_slot_[slot(id)] = quantized[static_cast<std::size_t>(d)];
  }
}

std::size_t QuantizedLinears::slot(LinearId id) const { return model::linear_slot(id, n_layers_); }

bool QuantizedLinears::contains(LinearId id) const {
  if (id.layer < 0 ? static_cast<int>(id.kind) < static_cast<int>(LinearKind::lm_head) ||
                        static_cast<int>(id.kind) >= model::kLinearKinds
                  : static_cast<std::size_t>(id.layer) >= n_layers_ ||
                        static_cast<std::size_t>(id.kind) >= model::kLinearKindsPerLayer) {
    return false;
  }
  return by_slot_[slot(id)] != nullptr;
}

const quant::QuantizedWeights& QuantizedLinears::get(LinearId id) const {
  if (!contains(id)) throw Error(ErrorCode::unknown_layer, "no quantized weights for " + model::linear_name(id));
  return *by_slot_[slot(id)];
}

SimulateBackend::SimulateBackend(const model::Model& model, std::shared_ptr<const QuantizedLinears> weights,
                                 he::LinearPrecision precision, std::uint64_t draw)
    : model_(model), weights_(std::move(weights)), product_(precision, draw) {}

namespace {

std::uint64_t mix64(std::uint64_t x) {  // SplitMix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t simulate_error_key(std::uint64_t draw) noexcept {
  return draw == 0 ? kSimulateErrorKey : kSimulateErrorKey ^ mix64(draw);
}

namespace {

// A standard normal draw determined by `key` (Box-Muller on two hashed uniforms).
double normal_of(std::uint64_t key) {
  const double u1 = (static_cast<double>(mix64(key) >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = static_cast<double>(mix64(key ^ 0xa5a5a5a5a5a5a5a5ull) >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

void SimulatedProduct::add_rounding_error(LinearId id, const quant::QuantizedWeights& w, std::size_t rows) {
  if (precision_ == he::LinearPrecision::exact) return;
  auto [it, fresh] = error_std_.try_emplace({id.layer, static_cast<int>(id.kind)});
  if (fresh) {
    const he::LinearShape one{1, static_cast<std::uint32_t>(w.n_in), static_cast<std::uint32_t>(w.n_out)};
    it->second = he::linear_error_std(he::plan_linear(one, precision_, false), w.values);
  }
  const std::vector<double>& sigma = it->second;
  const std::uint64_t group = mix64(error_key_ ^ (static_cast<std::uint64_t>(id.layer + 1) << 8) ^
                                    static_cast<std::uint64_t>(id.kind));
  for (std::size_t r = 0; r < rows; ++r) {
    std::uint64_t row = group;
    for (std::size_t i = 0; i < w.n_in; ++i) row = mix64(row ^ rows_.values[r * w.n_in + i]);
    row = mix64(row ^ static_cast<std::uint32_t>(rows_.zero_points[r]));
    for (std::size_t j = 0; j < w.n_out; ++j)
      acc_[r * w.n_out + j] += std::llround(normal_of(row + j) * sigma[j]);
  }
}

void SimulatedProduct::apply(LinearId id, const quant::QuantizedWeights& w, const float* bias, const float* x,
                             std::size_t rows, int activation_bits, float* y) {
  const std::size_t k = w.n_in, n = w.n_out;
  quant::quantize_rows(x, rows, k, activation_bits, rows_);
  acc_.resize(rows * n);
  // Split output channels across threads once a chunk holds ~256K MACs.
  const std::size_t min_chunk = std::max<std::size_t>(16, (std::size_t{1} << 18) / (k * rows + 1));
  parallel_for(n, min_chunk, [&](std::size_t begin, std::size_t end) {
    quant::int_matmul_range(rows_.values.data(), rows, k, w.values.data(), n, begin, end, acc_.data());
  });
  add_rounding_error(id, w, rows);
  quant::dequantize_product(acc_.data(), rows_, w, bias, y);
}

void SimulateBackend::lookup(LinearId table, std::span<const TokenId> ids, float* out) {
  const auto start = std::chrono::steady_clock::now();
  const quant::QuantizedWeights& w = weights_->get(table);
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const auto row = static_cast<std::size_t>(ids[t]);
    const float scale = w.scales[row];
    const std::int8_t* q = w.values.data() + row * w.n_in;
    for (std::size_t j = 0; j < w.n_in; ++j) out[t * w.n_in + j] = scale * static_cast<float>(q[j]);
  }
  stats_.n_calls += 1;
  stats_.n_rows += ids.size();
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void SimulateBackend::apply(LinearId id, const float* x, std::size_t rows, float* y) {
  const auto start = std::chrono::steady_clock::now();
  const quant::QuantizedWeights& w = weights_->get(id);
  product_.apply(id, w, model_.linear(id).bias, x, rows, weights_->options().activation_bits, y);
  stats_.n_calls += 1;
  stats_.n_rows += rows;
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace fhellm::hybrid
