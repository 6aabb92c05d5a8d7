// The server's API key file (net::ApiKeyStore::parse) and the check of a
// presented key against it.
#include "net/api_keys.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_fhellm_errors([&] {
    const net::ApiKeyStore store = net::ApiKeyStore::parse(text);
    for (const auto& e : store.entries()) store.verify("fhk_" + e.id + "_" + std::string(64, '0'));
  });
  static net::ApiKeyStore one = [] {
    net::ApiKeyStore s;
    s.add("k", {});
    return s;
  }();
  one.verify(text);
  return 0;
}
