// An encrypted embedding lookup as the server reads it (he/lookup.h): the
// header alone (peek_lookup_upload, no planning), then, for the table's
// shape, the whole evaluation against a 4100 x 8 table (three chunks: the
// select record, its expansion and the CMux gates) with real session keys.
#include <random>

#include "he/linear.h"
#include "he/lookup.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const he::LinearClient client({he::kLookupParamId});
  static const he::LinearServerKeys keys = he::LinearServerKeys::load(client.server_keys().save());
  static const he::EncodedTable table = [] {
    std::vector<std::int8_t> values(4100 * 8);
    std::mt19937 rng(1);
    for (auto& v : values) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
    return he::EncodedTable(values, 4100, 8);
  }();
  const ByteView upload(data, size);
  fuzz::expect_only_fhellm_errors([&] {
    const he::LookupMessageInfo info = he::peek_lookup_upload(upload);
    // As the server does: the shape against the table before any work.
    if (info.shape.table_rows != table.rows() || info.shape.width != table.width() || info.shape.rows > 4) return;
    he::lookup_evaluate(upload, table, keys, 1);
  });
  return 0;
}
