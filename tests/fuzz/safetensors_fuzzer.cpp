// A .safetensors file: its JSON header, offsets and dtypes, and every tensor read.
#include "model/safetensors.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input(data, size, "model.safetensors");
  fuzz::expect_only_fhellm_errors([&] {
    const model::SafetensorsFile file(path);
    for (const auto& entry : file.tensors()) {
      if (entry.second.numel() > (1u << 20)) continue;
      const std::string& name = entry.first;
      fuzz::expect_only_fhellm_errors([&] { file.read_float(name); });
    }
  });
  return 0;
}
