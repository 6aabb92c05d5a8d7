// A Model without some linear groups' weights (a client loaded from
// NAME.client): those take no memory, keep their shape and bias, and any
// local product of them is refused with an Error instead of reading garbage.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/model.h"
#include "model/session.h"

namespace fhellm::model {
namespace {

template <class F>
ErrorCode code_of(F f, const std::string& must_mention = "") {
  try {
    f();
  } catch (const Error& e) {
    if (!must_mention.empty()) {
      EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
    }
    return e.code();
  }
  return ErrorCode::internal_error;
}

// A small GPT-2 (biases everywhere) with an untied head, so every kind of
// group, the head included, can be absent.
ModelConfig small_gpt2_untied() {
  ModelConfig c = shape_preset("gpt2-124m");
  c.dim = 32;
  c.hidden_dim = 128;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 4;
  c.head_dim = 8;
  c.vocab_size = 97;
  c.context = 16;
  c.tied_head = false;
  return c;
}

// The weights with the groups `ids` emptied, as a client artifact holds them.
ModelWeights without(const ModelWeights& all, const std::vector<LinearId>& ids) {
  ModelWeights w = all;
  for (LinearId id : ids) {
    if (id.kind == LinearKind::lm_head) {
      w.lm_head.clear();
      continue;
    }
    LayerWeights& l = w.layers[static_cast<std::size_t>(id.layer)];
    std::vector<float>* t = id.kind == LinearKind::qkv        ? &l.wqkv
                            : id.kind == LinearKind::attn_out ? &l.wo
                            : id.kind == LinearKind::mlp_up   ? &l.w_up
                                                              : &l.w_down;
    std::vector<float>().swap(*t);
  }
  return w;
}

TEST(AbsentWeights, TakeNoMemoryAndKeepShapesAndBiases) {
  const auto full = random_model(small_gpt2_untied(), 7);
  const std::vector<LinearId> absent = {{0, LinearKind::qkv}, {1, LinearKind::mlp_down}, {-1, LinearKind::lm_head}};
  const auto m = Model::create(full->config(), without(full->weights(), absent), absent);

  std::size_t absent_bytes = 0;
  for (LinearId id : absent) {
    const LinearView held = full->linear(id), lacking = m->linear(id);
    EXPECT_FALSE(m->holds_weight(id)) << linear_name(id);
    EXPECT_EQ(lacking.weight, nullptr) << linear_name(id);
    EXPECT_EQ(lacking.n_out, held.n_out);
    EXPECT_EQ(lacking.n_in, held.n_in);
    ASSERT_EQ(lacking.bias == nullptr, held.bias == nullptr);
    if (held.bias != nullptr) {
      EXPECT_EQ(lacking.bias[0], held.bias[0]);
    }
    absent_bytes += held.n_out * held.n_in * sizeof(float);
  }
  EXPECT_TRUE(m->holds_weight({0, LinearKind::attn_out}));
  EXPECT_NE(m->linear({0, LinearKind::attn_out}).weight, nullptr);
  EXPECT_EQ(m->absent_linears(), absent);
  EXPECT_TRUE(full->absent_linears().empty());
  // Held bytes drop by exactly the absent matrices; the parameter count is the architecture's.
  EXPECT_EQ(m->weight_bytes() + absent_bytes, full->weight_bytes());
  EXPECT_EQ(full->weight_bytes(), full->n_parameters() * sizeof(float));
  EXPECT_EQ(m->n_parameters(), full->n_parameters());
}

TEST(AbsentWeights, LocalProductIsRefusedNotRead) {
  const auto full = random_model(small_gpt2_untied(), 8);
  const std::vector<LinearId> absent = {{1, LinearKind::attn_out}};
  const auto m = Model::create(full->config(), without(full->weights(), absent), absent);
  FloatLinear linear(*m);
  std::vector<float> x(32, 0.5f), y(32, 0.0f);
  EXPECT_EQ(code_of([&] { linear.apply({1, LinearKind::attn_out}, x.data(), 1, y.data()); }, "layers.1.attn_out"),
            ErrorCode::invalid_argument);
  // Held groups still run.
  std::vector<float> y_full(32);
  FloatLinear full_linear(*full);
  linear.apply({0, LinearKind::attn_out}, x.data(), 1, y.data());
  full_linear.apply({0, LinearKind::attn_out}, x.data(), 1, y_full.data());
  EXPECT_EQ(y, y_full);
  // A whole forward pass in float stops at the first absent group.
  Session session(m, linear);
  const std::vector<TokenId> prompt = {1, 2, 3};
  EXPECT_EQ(code_of([&] { session.forward(prompt); }, "does not hold"), ErrorCode::invalid_argument);
}

TEST(AbsentWeights, InconsistentRequestsAreRefused) {
  const auto full = random_model(small_gpt2_untied(), 9);
  const ModelConfig& c = full->config();
  // Marked absent but still present.
  EXPECT_EQ(code_of([&] { Model::create(c, full->weights(), {{0, LinearKind::mlp_up}}); }, "layers.0.w_up"),
            ErrorCode::invalid_argument);
  // Missing but not marked absent.
  EXPECT_EQ(code_of([&] { Model::create(c, without(full->weights(), {{0, LinearKind::mlp_up}})); }),
            ErrorCode::tensor_shape_mismatch);
  // Outside the model.
  EXPECT_EQ(code_of([&] { Model::create(c, full->weights(), {{2, LinearKind::qkv}}); }), ErrorCode::unknown_layer);
  EXPECT_EQ(code_of([&] { Model::create(c, full->weights(), {{0, static_cast<LinearKind>(9)}}); }),
            ErrorCode::unknown_layer);
  // A tied head is the embedding: it cannot be absent.
  const auto tied = random_model(shape_preset("stories260k"), 3);
  ASSERT_TRUE(tied->config().tied_head);
  EXPECT_EQ(code_of([&] { Model::create(tied->config(), tied->weights(), {{-1, LinearKind::lm_head}}); }, "tied"),
            ErrorCode::invalid_argument);
  // Duplicates are harmless.
  const std::vector<LinearId> twice = {{0, LinearKind::qkv}, {0, LinearKind::qkv}};
  const auto m = Model::create(c, without(full->weights(), twice), twice);
  EXPECT_EQ(m->absent_linears().size(), 1u);
  EXPECT_EQ(code_of([&] { m->holds_weight({5, LinearKind::qkv}); }), ErrorCode::unknown_layer);
}

}  // namespace
}  // namespace fhellm::model
