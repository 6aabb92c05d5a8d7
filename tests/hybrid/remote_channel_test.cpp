#include <gtest/gtest.h>

#include "fhellm/error.h"
#include "hybrid/remote_service.h"
#include "net/test_service.h"

namespace fhellm::hybrid {
namespace {

TEST(InProcessChannel, CallsTheServiceAndCountsTraffic) {
  fhellm::testing::ArithmeticService service;
  InProcessChannel channel(service);
  const std::uint32_t ids[] = {2};
  EXPECT_THROW(channel.call(ids, Bytes{1}), Error);
  const Bytes description = channel.open_session(fhellm::testing::ArithmeticService::key_bytes(4));
  EXPECT_EQ(std::string(description.begin(), description.end()), "arith v1");
  EXPECT_EQ(channel.call(ids, Bytes{1, 2}), (Bytes{7, 8}));
  const ChannelStats st = channel.stats();
  EXPECT_EQ(st.n_calls, 1u);
  EXPECT_EQ(st.bytes_up, 2u + 4u);
  EXPECT_EQ(st.bytes_down, 2u);
  EXPECT_EQ(st.session_bytes_up, 8u);
  channel.close();
  try {
    channel.call(ids, Bytes{1});
    FAIL() << "call after close did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unknown_session);
  }
}

}  // namespace
}  // namespace fhellm::hybrid
