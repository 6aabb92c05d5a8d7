// fhellm gateway with curl (the raw HTTP the OpenAI API defines: SSE framing,
// `data: [DONE]`, error objects, the bounded queue) and fhellm chat through a
// pseudo-terminal (history, /reset, Ctrl-C stops an answer, not the program).
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <regex>
#include <thread>

#include "tools/process.h"

namespace fhellm {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

// `fhellm gateway ARGS` on a free port.
class Gateway {
 public:
  explicit Gateway(std::vector<std::string> args) {
    std::vector<std::string> argv = {fhellm_binary(), "gateway", "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>(argv);
    const std::string out = process_->read_until("/v1 ", 60s);
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("(http://127\\.0\\.0\\.1:[0-9]+)/v1"))) throw std::runtime_error(out);
    url_ = m[1];
  }
  const std::string& url() const { return url_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string url_;
};

// curl's output (and its HTTP status appended on the last line).
std::string curl(const std::string& url, const std::string& body = "") {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-N", "-w", "\n%{http_code}", url};
  if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
  ChildProcess p(argv);
  EXPECT_EQ(p.wait_exit(120s), 0) << p.output();
  return p.output();
}

int status_of(const std::string& out) { return std::stoi(out.substr(out.rfind('\n') + 1)); }
nlohmann::json body_of(const std::string& out) { return nlohmann::json::parse(out.substr(0, out.rfind('\n'))); }

TEST(GatewayCurl, ModelsCompletionChatStreamStopAndErrors) {
  ASSERT_EQ(::access("/usr/bin/curl", X_OK), 0) << "curl is not installed (scripts/setup.sh installs it)";
  Gateway gw({"--fhe", "simulate"});
  const auto models = curl(gw.url() + "/v1/models");
  EXPECT_EQ(status_of(models), 200);
  EXPECT_EQ(body_of(models)["data"][0]["id"], "stories260K");

  const auto done = curl(gw.url() + "/v1/completions",
                         R"({"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0})");
  ASSERT_EQ(status_of(done), 200) << done;
  const auto c = body_of(done);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["usage"]["completion_tokens"], 10);
  EXPECT_TRUE(c["fhellm"].contains("ttft_ms") && c["fhellm"].contains("bytes_up") && c["fhellm"].contains("server_ms"));
  // The same tokens as fhellm generate.
  ChildProcess g({fhellm_binary(), "generate", "-p", "Once upon a time", "-n", "10", "--fhe", "simulate", "--json"});
  ASSERT_EQ(g.wait_exit(60s), 0);
  EXPECT_EQ(c["choices"][0]["text"], nlohmann::json::parse(g.output())["text"]);

  // Streaming: data: lines, the pieces add up to the text, then data: [DONE].
  const auto streamed = curl(gw.url() + "/v1/completions",
                             R"({"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0, "stream": true})");
  std::string text;
  std::vector<std::string> events;
  std::istringstream lines(streamed.substr(0, streamed.rfind('\n')));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) == 0) events.push_back(line.substr(6));
  }
  ASSERT_GE(events.size(), 3u) << streamed;
  EXPECT_EQ(events.back(), "[DONE]");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) text += nlohmann::json::parse(events[i])["choices"][0]["text"];
  EXPECT_EQ(text, c["choices"][0]["text"]);
  EXPECT_EQ(nlohmann::json::parse(events[events.size() - 2])["choices"][0]["finish_reason"], "length");

  const auto chat = curl(gw.url() + "/v1/chat/completions",
                         R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 6, "temperature": 0, "stop": ["\n"]})");
  ASSERT_EQ(status_of(chat), 200) << chat;
  EXPECT_EQ(body_of(chat)["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body_of(chat)["choices"][0]["message"]["content"].get<std::string>().find('\n'), std::string::npos);

  const auto bad = curl(gw.url() + "/v1/chat/completions", R"({"messages": []})");
  EXPECT_EQ(status_of(bad), 400);
  EXPECT_EQ(body_of(bad)["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body_of(bad)["error"]["param"], "messages");
  EXPECT_EQ(status_of(curl(gw.url() + "/v1/completions", "{not json")), 400);
}

TEST(GatewayCurl, ConcurrentRequestsGetASessionOrWaitInABoundedQueue) {
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0})";
  auto fire = [&](const Gateway& gw, int n) {
    std::vector<std::future<std::string>> calls;
    for (int i = 0; i < n; ++i) calls.push_back(std::async(std::launch::async, [&] { return curl(gw.url() + "/v1/completions", body); }));
    std::vector<std::string> out;
    for (auto& f : calls) out.push_back(f.get());
    return out;
  };
  {  // two sessions, a queue: every request is answered, each with the same tokens
    Gateway gw({"--fhe", "simulate", "--sessions", "2", "--queue", "8"});
    const auto out = fire(gw, 4);
    for (const auto& o : out) {
      ASSERT_EQ(status_of(o), 200) << o;
      EXPECT_EQ(body_of(o)["choices"][0]["text"], body_of(out[0])["choices"][0]["text"]);
    }
  }
  {  // one session, no queue: a request arriving while it is busy gets 503
    Gateway gw({"--fhe", "simulate", "--sessions", "1", "--queue", "0"});
    const auto out = fire(gw, 4);
    int ok = 0, busy = 0;
    for (const auto& o : out) {
      ok += status_of(o) == 200;
      if (status_of(o) == 503) {
        ++busy;
        EXPECT_EQ(body_of(o)["error"]["code"], "overloaded");
      }
    }
    EXPECT_GE(ok, 1);
    EXPECT_GE(busy, 1);
    EXPECT_EQ(ok + busy, 4);
  }
}

// fhellm chat in a pseudo-terminal: what a user types, what the user sees.
class Pty {
 public:
  explicit Pty(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = ::forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Pty() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(fd_);
  }
  void type(const std::string& s) { EXPECT_EQ(::write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  // Reads until `needle` appears after `from` (an offset in everything read).
  bool wait_for(const std::string& needle, std::size_t from, std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (seen_.find(needle, from) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      seen_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  int wait_exit() {
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(20ms);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& seen() const { return seen_; }

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
  std::string seen_;
};

std::vector<int> prompt_sizes(const std::string& s) {
  std::vector<int> out;
  const std::regex re("\\[fhellm\\] prompt ([0-9]+) tokens");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) out.push_back(std::stoi((*it)[1]));
  return out;
}

TEST(ChatPty, HistoryGoesBackToTheModelAndResetForgetsIt) {
  Pty chat({fhellm_binary(), "-v", "chat", "--fhe", "simulate", "-n", "6"});
  ASSERT_TRUE(chat.wait_for("> ", 0, 60s)) << chat.seen();
  // One turn: type a line once the "> " prompt is there, then wait for the
  // answer's summary and the next prompt (the terminal echoes what is typed
  // before the program answers, so the prompt alone is not a turn's end).
  auto turn = [&](const std::string& line) {
    const std::size_t at = chat.seen().size();
    chat.type(line + "\n");
    ASSERT_TRUE(chat.wait_for("[fhellm] prompt", at, 60s)) << chat.seen();
    ASSERT_TRUE(chat.wait_for(" tokens/s", at, 60s)) << chat.seen();
    ASSERT_TRUE(chat.wait_for("\r\n> ", at, 60s)) << chat.seen();
  };
  turn("Lily went");
  turn("and then");
  const std::size_t at = chat.seen().size();
  chat.type("/reset\n");
  ASSERT_TRUE(chat.wait_for("(conversation reset)", at, 30s)) << chat.seen();
  const std::size_t reset_at = chat.seen().find("(conversation reset)", at);
  ASSERT_TRUE(chat.wait_for("> ", reset_at, 30s)) << chat.seen();
  turn("Lily went");
  const auto sizes = prompt_sizes(chat.seen());
  ASSERT_EQ(sizes.size(), 3u) << chat.seen();
  EXPECT_GT(sizes[1], sizes[0]) << "the second turn carries the first";
  EXPECT_EQ(sizes[2], sizes[0]) << "after /reset the history is gone";
  chat.type("/exit\n");
  EXPECT_EQ(chat.wait_exit(), 0);
}

TEST(ChatPty, CtrlCStopsALongAnswerAndTheConversationGoesOn) {
  // execute in process: slow enough (a few tokens a second) to interrupt.
  Pty chat({fhellm_binary(), "chat", "--fhe", "execute", "-n", "200"});
  ASSERT_TRUE(chat.wait_for("> ", 0, 60s)) << chat.seen();
  std::size_t at = chat.seen().size();
  chat.type("Once upon a time\n");
  // Wait for the first token of the answer, then Ctrl-C.
  ASSERT_TRUE(chat.wait_for("Once upon a time\r\n", at, 30s)) << chat.seen();
  const std::size_t answer_at = chat.seen().size();
  ASSERT_TRUE(chat.wait_for(" ", answer_at, 60s)) << chat.seen();
  chat.type("\x03");
  ASSERT_TRUE(chat.wait_for("[stopped]", answer_at, 60s)) << chat.seen();
  ASSERT_TRUE(chat.wait_for("> ", answer_at, 30s)) << chat.seen();
  chat.type("/exit\n");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.seen();
}

}  // namespace
}  // namespace fhellm
