#include "model/tensor_names.h"

#include <gtest/gtest.h>

#include "fhellm/error.h"

namespace fhellm::model {
namespace {

TEST(TensorNames, EachFormatNamesItsTensors) {
  EXPECT_EQ(tensor_name(Architecture::llama, TensorFormat::hugging_face, TensorRole::q, 3),
            "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(tensor_name(Architecture::llama, TensorFormat::gguf, TensorRole::gate, 11), "blk.11.ffn_gate.weight");
  EXPECT_EQ(tensor_name(Architecture::llama, TensorFormat::llama2c, TensorRole::down), "w2");
  EXPECT_EQ(tensor_name(Architecture::gpt2, TensorFormat::hugging_face, TensorRole::qkv, 0), "h.0.attn.c_attn.weight");
  EXPECT_EQ(tensor_name(Architecture::gpt2, TensorFormat::gguf, TensorRole::final_norm_bias), "output_norm.bias");
}

TEST(TensorNames, RolesAnArchitectureLacksAreErrors) {
  try {
    tensor_name(Architecture::gpt2, TensorFormat::gguf, TensorRole::gate, 0);
    FAIL() << "GPT-2 has no gate";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_tensor);
  }
  EXPECT_THROW(tensor_name(Architecture::llama, TensorFormat::hugging_face, TensorRole::rope_freqs), Error);
  EXPECT_THROW(tensor_name(Architecture::gpt2, TensorFormat::llama2c, TensorRole::qkv), Error);
}

}  // namespace
}  // namespace fhellm::model
