// Defects a new user hit (issue 13), each checked end to end with the real
// binary: a --server that is not fhellm's, -n 0 and --remote none uploading
// keys, a trailing '/' on --server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
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

// A copy of stories260K.bin with one weight replaced by `value` (a float32 at
// the given index of the weights that follow the 28-byte header).
std::string corrupt_copy(const fs::path& dir, const std::string& name, std::size_t index, float value) {
  std::ifstream in(kStories, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::memcpy(bytes.data() + 28 + 4 * index, &value, 4);
  const fs::path out = dir / name;
  std::ofstream(out, std::ios::binary) << bytes;
  return out.string();
}

TEST_F(CliDefects, NonFiniteWeightsAreRefusedAtLoadByEveryCommand) {
  const std::string tok = FHELLM_SOURCE_DIR "/models/tok512.bin";
  const std::string nan = corrupt_copy(dir_, "nan.bin", 512 * 64 + 5 * 64 + 100, std::nanf(""));  // layers.0.wqkv
  const std::string inf = corrupt_copy(dir_, "inf.bin", 100, INFINITY);                           // token_embedding
  const std::string text = (dir_ / "text.txt").string();
  std::ofstream(text) << "Once upon a time there was a little girl.";
  // Before: exit 134 (an exception escaping a worker thread) in eval and serve;
  // --fhe disable printed text from NaN logits.
  const std::vector<std::vector<std::string>> commands = {
      {"generate", "--model", nan, "--tokenizer", tok, "-p", "hi", "-n", "3", "--fhe", "disable"},
      {"generate", "--model", nan, "--tokenizer", tok, "-p", "hi", "-n", "3"},
      {"compile", "--model", nan, "--tokenizer", tok, "--out", (dir_ / "n").string()},
      {"eval", "--model", inf, "--tokenizer", tok, "--text", text},
      {"serve", "--model", inf, "--listen", "127.0.0.1:0"},
  };
  for (const auto& c : commands) {
    const auto [rc, out] = run(c);
    EXPECT_EQ(rc, 3) << c[0] << ": " << out;  // bad_model_file: format
    EXPECT_NE(out.find(c[2] == nan ? "tensor 'layers.0.wqkv' holds a NaN" : "tensor 'token_embedding' holds an infinity"),
              std::string::npos)
        << out;
  }
}

TEST_F(CliDefects, ATokenizerOfAnotherModelIsRefused) {
  // tok512.bin with one more token: a 513-token vocabulary for a 512-token model.
  std::ifstream in(FHELLM_SOURCE_DIR "/models/tok512.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const float score = -1e4f;
  const std::int32_t len = 5;
  bytes.append(reinterpret_cast<const char*>(&score), 4).append(reinterpret_cast<const char*>(&len), 4).append("extra");
  const std::string tok = (dir_ / "tok513.bin").string();
  std::ofstream(tok, std::ios::binary) << bytes;
  // Before: it ran and printed text from the wrong vocabulary.
  for (const std::string command : {"generate", "compile"}) {
    std::vector<std::string> args = {command, "--model", kStories, "--tokenizer", tok};
    if (command == "generate") args.insert(args.end(), {"-p", "Once", "-n", "3", "--fhe", "disable"});
    if (command == "compile") args.insert(args.end(), {"--out", (dir_ / "m").string()});
    const auto [rc, out] = run(args);
    EXPECT_EQ(rc, 2) << command << ": " << out;
    EXPECT_NE(out.find("tokenizer_mismatch"), std::string::npos) << out;
  }
}

TEST_F(CliDefects, EvalRunsExecuteTakesBitsAndArtifactsAndSaysItsWindows) {
  const std::string text = (dir_ / "text.txt").string();
  std::ofstream(text) << "Once upon a time, there was a girl.";
  auto eval = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"eval", "--text", text, "--json", "-c", "8", "--precision", "exact"});
    const auto [rc, out] = run(args, false);
    EXPECT_EQ(rc, 0) << out;
    return nlohmann::json::parse(out);
  };
  // Before: "fhe mode 'execute' is not available in this build". In exact
  // precision execute gives simulate's integers, so the same perplexity.
  const auto simulate = eval({"--fhe", "simulate"});
  const auto execute = eval({"--fhe", "execute", "--remote", "qkv"});  // a few remote layers: seconds, not tens
  EXPECT_NEAR(execute["perplexity"].get<double>(), eval({"--fhe", "simulate", "--remote", "qkv"})["perplexity"].get<double>(), 1e-9);
  EXPECT_EQ(simulate["window"].get<int>(), 8);
  EXPECT_EQ(simulate["stride"].get<int>(), 4);
  EXPECT_EQ(simulate["n_predicted"].get<int>() + 1, simulate["n_tokens"].get<int>());
  // --bits: a model judged at fewer bits scores differently.
  const auto four = eval({"--fhe", "simulate", "--bits", "4"});
  EXPECT_EQ(four["weight_bits"].get<int>(), 4);
  EXPECT_NE(four["perplexity"].get<double>(), simulate["perplexity"].get<double>());
  // --artifact with a server: the compiled model's perplexity equals simulate's.
  testing::ServeProcess server({"--artifact", prefix_ + ".server", "--precision", "exact"});
  const auto remote = eval({"--fhe", "execute", "--artifact", prefix_ + ".client", "--server", server.url()});
  EXPECT_NEAR(remote["perplexity"].get<double>(), simulate["perplexity"].get<double>(), 1e-9);
  const auto [rc, out] = run({"eval", "--text", text, "--fhe", "simulate", "-c", "8", "--stride", "3"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("windows of 8 tokens every 3"), std::string::npos) << out;
}

TEST_F(CliDefects, EvalDrawsShowTheSpreadOfTheModelledErrors) {
  const std::string text = (dir_ / "text.txt").string();
  std::ofstream(text) << "Once upon a time, there was a girl. She had a dog. The dog was big and happy.";
  auto eval = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"eval", "--text", text, "--json", "-c", "16"});
    const auto [rc, out] = run(args, false);
    EXPECT_EQ(rc, 0) << out;
    return nlohmann::json::parse(out);
  };
  const auto one = eval({});
  const auto four = eval({"--draws", "4"});
  // The first draw is the default's; the others differ from it and each other.
  EXPECT_EQ(four["perplexity"], one["perplexity"]);
  const auto draws = four["perplexity_draws"].get<std::vector<double>>();
  ASSERT_EQ(draws.size(), 4u);
  EXPECT_EQ(draws[0], one["perplexity"].get<double>());
  for (std::size_t i = 1; i < draws.size(); ++i) EXPECT_NE(draws[i], draws[i - 1]);
  double mean = 0;
  for (double p : draws) mean += p / 4;
  EXPECT_NEAR(four["perplexity_mean"].get<double>(), mean, 1e-9);
  EXPECT_GT(four["perplexity_std"].get<double>(), 0.0);
  EXPECT_EQ(eval({"--draws", "4"})["perplexity_draws"], four["perplexity_draws"]) << "each draw is reproducible";
  // Exact precision draws no error: every draw is the same.
  const auto exact = eval({"--draws", "3", "--precision", "exact"});
  EXPECT_EQ(exact["perplexity_std"].get<double>(), 0.0);
  const auto [rc, out] = run({"eval", "--text", text, "--fhe", "disable", "--draws", "2"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--draws goes with --fhe simulate or execute"), std::string::npos) << out;
}

TEST_F(CliDefects, CompileBitsSaysWhatItChanges) {
  // --bits 4 changes the weights, not the artifact's size (every weight is
  // stored in 8 bits) nor the traffic (same encrypted product): its help says so.
  const auto [rc4, out4] = run({"compile", "--model", kStories, "--out", (dir_ / "four").string(), "--bits", "4"});
  ASSERT_EQ(rc4, 0) << out4;
  EXPECT_EQ(fs::file_size(dir_ / "four.server"), fs::file_size(prefix_ + ".server"));
  const auto [rc, help] = run({"compile", "--help"}, false);
  EXPECT_NE(help.find("neither the artifact size nor the traffic changes"), std::string::npos) << help;
  const auto g8 = nlohmann::json::parse(run({"generate", "-p", "Once", "-n", "3", "--json"}, false).second);
  const auto g4 = nlohmann::json::parse(run({"generate", "-p", "Once", "-n", "3", "--json", "--bits", "4"}, false).second);
  EXPECT_EQ(g8["bytes_down"], g4["bytes_down"]);
  EXPECT_EQ(g8["bytes_up"], g4["bytes_up"]);
}

}  // namespace
}  // namespace fhellm
