#include "common/progress.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fhellm {
namespace {

// Everything written to a temporary FILE*.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(Progress, PipedPrintsOneLinePerTenthWithoutCarriageReturns) {
  std::FILE* f = std::tmpfile();
  {
    Progress::Options o;
    o.out = f;
    o.terminal = 0;
    Progress p("layers", 100, o);
    for (int i = 0; i < 100; ++i) p.advance();
  }
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(count(out, "\n"), 11u) << out;  // 0%, 10%, ..., 100%
  EXPECT_NE(out.find("layers ["), std::string::npos) << out;
  EXPECT_NE(out.find("100% 100/100"), std::string::npos) << out;
}

TEST(Progress, TerminalRedrawsInPlaceAndEndsWithANewline) {
  std::FILE* f = std::tmpfile();
  {
    Progress::Options o;
    o.out = f;
    o.terminal = 1;
    o.redraw = std::chrono::milliseconds(0);
    Progress p("prefill", 4, o);
    for (int i = 0; i < 4; ++i) p.advance();
    p.finish();
    p.advance();  // after finish: nothing more
  }
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(count(out, "\n"), 1u) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_GE(count(out, "\r\033[K"), 5u) << out;
  EXPECT_NE(out.find("100% 4/4"), std::string::npos) << out;
}

TEST(Progress, DisabledPrintsNothingAndUnknownTotalCounts) {
  std::FILE* f = std::tmpfile();
  {
    Progress::Options o;
    o.out = f;
    o.enabled = false;
    Progress p("quiet", 3, o);
    p.advance(3);
  }
  EXPECT_EQ(contents(f), "");
  std::FILE* g = std::tmpfile();
  {
    Progress::Options o;
    o.out = g;
    o.terminal = 0;
    Progress p("tokens", 0, o);
    p.advance(7);
  }
  EXPECT_NE(contents(g).find("tokens 7"), std::string::npos) << contents(g);
  std::fclose(f);
  std::fclose(g);
}

TEST(Progress, ThreadsAndCallbackAdvanceTogether) {
  std::FILE* f = std::tmpfile();
  Progress::Options o;
  o.out = f;
  o.terminal = 0;
  Progress p("work", 4000, o);
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) p.advance();
    });
  for (auto& w : workers) w.join();
  p.callback()(4000, 4000);
  p.finish();
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_NE(out.find("100% 4000/4000"), std::string::npos) << out;
  EXPECT_EQ(count(out, "\n"), 11u) << out;
}

}  // namespace
}  // namespace fhellm
