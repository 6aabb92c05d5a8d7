// The online mode's payloads (hybrid/online_wire.h) as the server reads them
// (the info query; masked rows priced from their header by
// OnlineService::call_rows, then multiplied by call) and as the client reads
// them (the info, a result checked against its call). The first byte picks
// the reader (the seeds in corpus/online_wire are tagged alike).
#include "fuzz/fuzz_util.h"
#include "fuzz/online_fixture.h"
#include "hybrid/online_wire.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const hybrid::OnlineService service = fuzz::online_service();
  static const std::uint64_t p = hybrid::online::decode_online_info(
                                     service.info(hybrid::online::encode_online_query()))
                                     .at(0)
                                     .p;
  const ByteView bytes(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: fuzz::expect_only_fhellm_errors([&] { service.info(bytes); }); break;
    case 1: {
      bool priced = false;
      std::uint64_t rows = 0;
      fuzz::expect_only_fhellm_errors([&] {
        rows = service.call_rows(fuzz::kOnlineWire, bytes);
        priced = true;
      });
      fuzz::expect_only_fhellm_errors([&] {
        const Bytes reply = service.call(fuzz::kOnlineWire, bytes, 1);
        // Whatever call answers, call_rows priced first, at its row count.
        if (!priced) std::abort();
        hybrid::online::decode_online_result(reply, static_cast<std::uint32_t>(rows), fuzz::kOnlineN, p);
      });
      break;
    }
    case 2: fuzz::expect_only_fhellm_errors([&] { hybrid::online::decode_online_info(bytes); }); break;
    default:
      fuzz::expect_only_fhellm_errors(
          [&] { hybrid::online::decode_online_result(bytes, fuzz::kOnlineRows, fuzz::kOnlineN, p); });
      break;
  }
  return 0;
}
