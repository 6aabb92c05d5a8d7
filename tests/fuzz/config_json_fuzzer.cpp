// A Hugging Face config.json (model::parse_hf_config).
#include "model/loader.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_fhellm_errors([&] { model::parse_hf_config(text); });
  return 0;
}
