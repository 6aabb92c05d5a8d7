// Defects a new user hit (issue 13), each checked end to end with the real
// binary: a --server that is not fhellm's, -n 0 and --remote none uploading
// keys, a trailing '/' on --server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

const std::string kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";

std::pair<int, std::string> run(const std::vector<std::string>& args, bool with_stderr = true) {
  std::vector<std::string> argv = {fhellm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, with_stderr);
  const int rc = p.wait_exit(300s);
  return {rc, p.output()};
}

// An HTTP server that is not fhellm's: it answers 501 to anything after
// reading the first bytes, and closes without reading the body (as Python's
// http.server does for a POST), so a client still sending gets EPIPE.
class ForeignHttpServer {
 public:
  ForeignHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ForeignHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[512];
      (void)::recv(c, buf, sizeof buf, 0);
      const char reply[] = "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class CliDefects : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fhellm-defects-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    prefix_ = (dir_ / "stories").string();
    const auto [rc, out] = run({"compile", "--model", kStories, "--out", prefix_});
    ASSERT_EQ(rc, 0) << out;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string prefix_;
};

TEST_F(CliDefects, AServerThatIsNotFhellmsIsAnErrorNotSigpipe) {
  ForeignHttpServer foreign;
  const auto [rc, out] = run({"generate", "--artifact", prefix_ + ".client", "--server", foreign.url(), "-p", "hi", "-n", "2"});
  EXPECT_EQ(rc, 4) << out;  // protocol; was 141 (SIGPIPE) with no message
  EXPECT_NE(out.find("fhellm: error: "), std::string::npos) << out;
  EXPECT_NE(out.find(foreign.url()), std::string::npos) << out;
}

TEST_F(CliDefects, NoTokenOrNoRemoteModuleUploadsNoKey) {
  testing::ServeProcess server({"--artifact", prefix_ + ".server"});
  auto upload = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"generate", "-p", "Once", "--json"});
    const auto [rc, out] = run(args, false);
    EXPECT_EQ(rc, 0) << out;
    return nlohmann::json::parse(out).value("key_upload_bytes", -1.0);
  };
  // Before: 7.77 MB of keys went up in both cases.
  EXPECT_EQ(upload({"--artifact", prefix_ + ".client", "--server", server.url(), "-n", "0"}), 0.0);
  EXPECT_EQ(upload({"--remote", "none", "-n", "3"}), 0.0);
  EXPECT_GT(upload({"--artifact", prefix_ + ".client", "--server", server.url(), "-n", "1"}), 1e6);
}

TEST_F(CliDefects, ATrailingSlashOnTheServerUrlIsTheSameServer) {
  testing::ServeProcess server({"--artifact", prefix_ + ".server"});
  const auto [rc, out] = run({"generate", "--artifact", prefix_ + ".client", "--server", server.url() + "/", "-p", "Once",
                              "-n", "2", "--json"},
                             false);
  EXPECT_EQ(rc, 0) << out;  // was: invalid_argument "must be scheme://HOST[:PORT] with no path"
  EXPECT_EQ(nlohmann::json::parse(out)["n_generated"].get<int>(), 2);
}

}  // namespace
}  // namespace fhellm
