// Compiled artifacts (hybrid/artifact.h): NAME.server as the server loads
// it and NAME.client as the client loads it. The first input byte picks which.
#include "hybrid/artifact.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool server = data[0] & 1;
  const auto path = fuzz::write_input(data + 1, size - 1, server ? "a.server" : "a.client");
  fuzz::expect_only_fhellm_errors([&] {
    if (server) {
      hybrid::load_server_artifact(path);
    } else {
      const hybrid::ClientArtifact a = hybrid::load_client_artifact(path);
      a.tokenizer->encode("Once upon a time", true);
    }
  });
  return 0;
}
