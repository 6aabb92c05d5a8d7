// An encrypted upload as the server reads it (he/linear.h): the header alone
// (peek_linear_upload), then, for the layer's shape, the whole evaluation
// against a 64 x 64 layer with real session keys.
#include <random>

#include "he/linear.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const he::LinearClient client({he::ParamId::n2048_q54});
  static const he::LinearServerKeys keys = he::LinearServerKeys::load(client.server_keys().save());
  static const he::EncodedWeights weights = [] {
    std::vector<std::int8_t> w(64 * 64);
    std::mt19937 rng(1);
    for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
    const he::LinearPrecision both[] = {he::LinearPrecision::exact, he::LinearPrecision::standard};
    return he::EncodedWeights(w, 64, 64, both);
  }();
  const std::span<const std::uint8_t> upload(data, size);
  fuzz::expect_only_fhellm_errors([&] {
    const he::LinearMessageInfo info = he::peek_linear_upload(upload);
    // As the server does: the shape against the layer before any work.
    if (info.shape.in != weights.in() || info.shape.out != weights.out() || info.shape.rows > 4) return;
    he::linear_evaluate(upload, weights, keys, 1);
  });
  return 0;
}
