// HybridModel::release_backend: the backend (an execute backend's server
// session) is dropped at once, and the next generate builds a new one with
// the same mode and remote set.
#include <gtest/gtest.h>

#include "hybrid/hybrid_model.h"
#include "model/loader.h"

namespace fhellm::hybrid {
namespace {

TEST(HybridModelReleaseBackend, DropsTheBackendAndKeepsTheSettings) {
  HybridModel hm(model::random_model(model::shape_preset("stories260k"), 7));
  // A stand-in execute backend (simulate's arithmetic) that records its lifetime.
  struct Tracked final : LinearBackend {
    Tracked(const model::Model& m, std::shared_ptr<const QuantizedLinears> q, int& live)
        : inner(m, std::move(q)), live(live) {
      ++live;
    }
    ~Tracked() override { --live; }
    FheMode mode() const override { return FheMode::execute; }
    void apply(LinearId id, const float* x, std::size_t rows, float* y) override { inner.apply(id, x, rows, y); }
    void lookup(LinearId table, std::span<const TokenId> ids, float* out) override { inner.lookup(table, ids, out); }
    SimulateBackend inner;
    int& live;
  };
  int live = 0, built = 0;
  hm.set_backend_factory(FheMode::execute, [&](HybridModel& h) {
    ++built;
    return std::make_unique<Tracked>(h.model(), h.quantized_linears(), live);
  });
  hm.set_remote_modules("qkv,lm_head");
  hm.set_mode(FheMode::execute);
  const std::vector<TokenId> prompt = {1, 5, 9};
  const GenerateOptions greedy{{0.0f, 0, 1.0f, 0}, false};
  const auto first = hm.generate(prompt, 3, greedy).ids;
  EXPECT_EQ(live, 1);
  hm.release_backend();
  EXPECT_EQ(live, 0);  // gone now, not at the next set_* call
  EXPECT_EQ(built, 1);
  EXPECT_EQ(hm.mode(), FheMode::execute);
  EXPECT_EQ(hm.remote_modules().size(), 6u);
  EXPECT_EQ(hm.generate(prompt, 3, greedy).ids, first);
  EXPECT_EQ(built, 2);
  EXPECT_EQ(live, 1);
  hm.release_backend();
  hm.release_backend();  // nothing to drop: no effect
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace fhellm::hybrid
