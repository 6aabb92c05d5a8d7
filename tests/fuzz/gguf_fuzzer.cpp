// A GGUF file: header, metadata, tensor table, the model config and the
// vocabulary read from it, and the whole model load.
#include "model/gguf.h"
#include "hybrid/gguf_tokenizer.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input(data, size, "model.gguf");
  fuzz::expect_only_fhellm_errors([&] {
    const model::GgufFile file(path);
    fuzz::expect_only_fhellm_errors([&] { model::gguf_model_config(file); });
    fuzz::expect_only_fhellm_errors([&] { hybrid::load_gguf_tokenizer(file)->encode("Once upon a time", true); });
  });
  fuzz::expect_only_fhellm_errors([&] { model::load_gguf(path); });
  return 0;
}
