// A session's evaluation keys as the server reads them: the cheap walk that
// prices a session (peek_linear_server_keys), then the full parse.
#include "he/linear.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  fuzz::expect_only_fhellm_errors([&] { he::peek_linear_server_keys(bytes); });
  fuzz::expect_only_fhellm_errors([&] { he::LinearServerKeys::load(bytes); });
  return 0;
}
