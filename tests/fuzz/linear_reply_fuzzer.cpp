// An encrypted reply as the client reads it (he::LinearClient::decrypt): a
// malicious or broken server must not crash the client.
#include "he/linear.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const he::LinearClient client({he::ParamId::n2048_q54});
  fuzz::expect_only_fhellm_errors([&] { client.decrypt({data, size}); });
  return 0;
}
