// An encrypted lookup reply as the client reads it
// (he::LinearClient::decrypt_lookup): a malicious or broken server must not
// crash the client.
#include "he/linear.h"
#include "he/lookup.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const he::LinearClient client({he::kLookupParamId});
  fuzz::expect_only_fhellm_errors([&] { client.decrypt_lookup({data, size}); });
  return 0;
}
