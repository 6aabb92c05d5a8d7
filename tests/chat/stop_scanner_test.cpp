#include "chat/stop_scanner.h"

#include <gtest/gtest.h>

namespace fhellm::chat {
namespace {

// Feeds `pieces`; returns everything released (pushes and flush).
std::string run(StopScanner& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += s.push(p);
  return out + s.flush();
}

TEST(StopScanner, StopsAtAStringSplitAcrossPieces) {
  StopScanner s({"\nUser:", "END"});
  EXPECT_EQ(s.push("Hello"), "Hello");
  EXPECT_EQ(s.push(" there\nUs"), " there");  // "\nUs" may begin "\nUser:"
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("er: more"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.matched(), "\nUser:");
  EXPECT_EQ(s.push("ignored"), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopScanner, HeldTextIsReleasedWhenItTurnsOutNotToBeAStop) {
  StopScanner s({"abc"});
  EXPECT_EQ(run(s, {"xa", "b", "d", "ab"}), "xabdab");
  EXPECT_FALSE(s.stopped());
}

TEST(StopScanner, EarliestStopWinsAndNoStopsReleaseEverything) {
  StopScanner s({"world", "lo w"});
  EXPECT_EQ(run(s, {"hello world"}), "hel");
  EXPECT_EQ(s.matched(), "lo w");
  StopScanner none({"", ""});
  EXPECT_EQ(none.push("text"), "text");
}

TEST(StopScanner, MultiByteTextIsNeverCut) {
  StopScanner s({"é!"});
  EXPECT_EQ(s.push("caf"), "caf");
  EXPECT_EQ(s.push("é"), "");  // may begin the stop string
  EXPECT_EQ(s.push("s"), "és");
  EXPECT_EQ(run(s, {"é", "!"}), "");
  EXPECT_TRUE(s.stopped());
}

}  // namespace
}  // namespace fhellm::chat
