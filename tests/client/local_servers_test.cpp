// The servers in this process of a Client and its sessions: one per
// configuration, shared while held (a gateway of N in-process sessions
// encodes the weights once), another for another precision, remote set or
// the online mode, and built again once nobody holds it.
#include "client/local_servers.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_data.h"

namespace fhellm::client {
namespace {

TEST(LocalServers, OnePerConfigurationSharedWhileHeld) {
  hybrid::HybridModel first = hybrid::HybridModel::load(test_data::bundled_model());
  hybrid::HybridModel session(first.shared_model());  // a new_session()'s model
  session.set_remote_modules(first.remote_modules());
  LocalServers local;
  const auto a = local.get(first, false);
  EXPECT_EQ(local.get(first, false), a);
  EXPECT_EQ(local.get(session, false), a);
  EXPECT_GT(a->weight_count(), 0u);

  const auto online = local.get(session, true);
  EXPECT_NE(online, a);
  EXPECT_EQ(local.get(first, true), online);
  session.set_precision(he::LinearPrecision::exact);
  const auto exact = local.get(session, false);
  EXPECT_NE(exact, a);
  session.set_remote_modules({first.remote_modules().front()});
  const auto fewer = local.get(session, false);
  EXPECT_NE(fewer, exact);
  EXPECT_LT(fewer->weight_count(), a->weight_count());

  // Sessions asking at once get the same one.
  std::shared_ptr<hybrid::RemoteLinearService> x, y;
  session.set_remote_modules(first.remote_modules());
  session.set_precision(he::LinearPrecision::standard);
  std::thread tx([&] { x = local.get(first, true); });
  std::thread ty([&] { y = local.get(session, true); });
  tx.join();
  ty.join();
  EXPECT_EQ(x, online);
  EXPECT_EQ(y, online);
}

TEST(LocalServers, BuiltAgainOnceNobodyHoldsIt) {
  hybrid::HybridModel hm = hybrid::HybridModel::load(test_data::bundled_model());
  LocalServers local;
  std::weak_ptr<hybrid::RemoteLinearService> was = local.get(hm, false);
  EXPECT_TRUE(was.expired());  // the weights' memory goes with the last session that held them
  const auto again = local.get(hm, false);
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(local.get(hm, false), again);
}

}  // namespace
}  // namespace fhellm::client
