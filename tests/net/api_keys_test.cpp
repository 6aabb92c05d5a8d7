// API key files: made, checked, refused, round-tripped.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fhellm/error.h"
#include "net/api_keys.h"
#include "net/memory_budget.h"
#include "net/token_bucket.h"

namespace fhellm::net {
namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no fhellm::Error thrown";
  return ErrorCode::internal_error;
}

TEST(ApiKeys, AKeyIsAcceptedAndAnyChangeToItIsNot) {
  ApiKeyStore store;
  const std::string alice = store.add("alice", {2, 10, 1000});
  const std::string bob = store.add("bob", {});
  ASSERT_EQ(alice.size(), 4u + 16 + 1 + 64);
  ASSERT_NE(store.verify(alice), nullptr);
  EXPECT_EQ(store.verify(alice)->name, "alice");
  EXPECT_EQ(store.verify(alice)->limits.sessions, 2u);
  EXPECT_EQ(store.verify(bob)->name, "bob");
  // Every single-character change of the secret or the id is refused.
  for (std::size_t i = 0; i < alice.size(); ++i) {
    std::string k = alice;
    k[i] = k[i] == 'a' ? 'b' : 'a';
    EXPECT_EQ(store.verify(k), nullptr) << "changed at " << i;
  }
  EXPECT_EQ(store.verify(""), nullptr);
  EXPECT_EQ(store.verify(alice.substr(0, alice.size() - 1)), nullptr);
  EXPECT_EQ(store.verify(alice + "0"), nullptr);
  // Alice's id with bob's secret.
  EXPECT_EQ(store.verify(alice.substr(0, 21) + bob.substr(21)), nullptr);
}

TEST(ApiKeys, TheFileHoldsNoSecretAndRoundTrips) {
  ApiKeyStore store;
  const std::string key = store.add("svc-1", {4, 2.5, 50000});
  const std::string text = store.serialize();
  EXPECT_EQ(text.find(key.substr(21)), std::string::npos) << "the secret is in the file";
  const ApiKeyStore again = ApiKeyStore::parse(text);
  ASSERT_EQ(again.entries().size(), 1u);
  EXPECT_EQ(again.entries()[0].limits.requests_per_second, 2.5);
  EXPECT_EQ(again.entries()[0].limits.rows_per_hour, 50000u);
  ASSERT_NE(again.verify(key), nullptr);
  const auto path = std::filesystem::temp_directory_path() / ("fhellm-keys-" + std::to_string(::getpid()));
  again.save(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ApiKeyStore::load(path).verify(key), nullptr);
  std::filesystem::remove(path);
}

TEST(ApiKeys, MalformedFilesAreRefusedWithTheLine) {
  ApiKeyStore store;
  store.add("a", {});
  const std::string good = store.serialize();
  const std::string line = good.substr(good.find('\n') + 1);
  EXPECT_NO_THROW(ApiKeyStore::parse("# comment only\n\n" + line));
  EXPECT_EQ(code_of([&] { ApiKeyStore::parse(line + line); }), ErrorCode::bad_config);  // repeated id
  EXPECT_EQ(code_of([&] { ApiKeyStore::parse("0123 a b c\n"); }), ErrorCode::bad_config);
  EXPECT_EQ(code_of([&] { ApiKeyStore::parse(line.substr(0, line.size() - 3) + "\n"); }), ErrorCode::bad_config);
  std::string bad_limit = line;
  bad_limit.insert(bad_limit.size() - 1, " sessions=-1");
  EXPECT_EQ(code_of([&] { ApiKeyStore::parse(bad_limit); }), ErrorCode::bad_config);
  std::string bad_name = line;
  bad_name.replace(17, 1, "a b");
  EXPECT_EQ(code_of([&] { ApiKeyStore::parse(bad_name); }), ErrorCode::bad_config);
  EXPECT_EQ(code_of([&] { ApiKeyStore::load("/nonexistent/keys"); }), ErrorCode::file_not_found);
  EXPECT_EQ(code_of([&] { store.add("a", {}); }), ErrorCode::invalid_argument);  // repeated name
  EXPECT_EQ(code_of([&] { store.add("no spaces", {}); }), ErrorCode::invalid_argument);
  store.remove("a");
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(code_of([&] { store.remove("a"); }), ErrorCode::invalid_argument);
}

TEST(ApiKeys, EnvironmentGivesTheClientsKeyUnlessOneIsGiven) {
  ::setenv("FHELLM_API_KEY", "from-env", 1);
  EXPECT_EQ(api_key_from(""), "from-env");
  EXPECT_EQ(api_key_from("explicit"), "explicit");
  ::unsetenv("FHELLM_API_KEY");
  EXPECT_EQ(api_key_from(""), "");
}

TEST(TokenBucket, TakesUpToItsCapacityThenRefillsAtItsRate) {
  using namespace std::chrono_literals;
  TokenBucket b(10, 10);  // 10 per second
  const auto t0 = TokenBucket::Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.take(1, t0).count(), 0) << i;
  const auto wait = b.take(1, t0);
  EXPECT_GE(wait.count(), 99);
  EXPECT_LE(wait.count(), 101);
  EXPECT_EQ(b.take(1, t0 + 100ms).count(), 0);
  EXPECT_GT(b.take(1, t0 + 100ms).count(), 0);
  // More than the capacity never fits now.
  EXPECT_GT(b.take(11, t0 + 10s).count(), 0);
  TokenBucket unlimited(0, 0);
  EXPECT_EQ(unlimited.take(1e12, t0).count(), 0);
}

TEST(MemoryBudget, ReservationsFitUnderTheLimitAndGiveBack) {
  auto budget = MemoryBudget::make(100);
  auto a = budget->try_reserve(60);
  ASSERT_TRUE(a);
  EXPECT_FALSE(budget->try_reserve(41));
  auto b = budget->try_reserve(40);
  ASSERT_TRUE(b);
  EXPECT_EQ(budget->used(), 100u);
  a.reset();
  EXPECT_EQ(budget->used(), 40u);
  Reservation moved = std::move(*b);
  b.reset();
  EXPECT_EQ(budget->used(), 40u);
  moved.release();
  EXPECT_EQ(budget->used(), 0u);
  EXPECT_FALSE(budget->try_reserve(101));
  EXPECT_FALSE(budget->try_reserve(~0ull));
}

}  // namespace
}  // namespace fhellm::net
