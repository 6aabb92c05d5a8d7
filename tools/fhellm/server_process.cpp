#include "server_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "fhellm/error.h"

extern char** environ;

namespace fhellm::cli {

ServerProcess::ServerProcess(const std::vector<std::string>& serve_args) {
  const auto started = std::chrono::steady_clock::now();
  int fds[2];
  require(::pipe(fds) == 0, ErrorCode::io_error, "server process: pipe failed");
  const std::string self = "/proc/self/exe";
  std::vector<std::string> argv = {self, "serve"};
  argv.insert(argv.end(), serve_args.begin(), serve_args.end());
  argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const int rc = posix_spawn(&pid_, self.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  fd_ = fds[0];
  if (rc != 0) pid_ = -1;
  require(rc == 0, ErrorCode::io_error, "server process: cannot start `fhellm serve`");
  // Wait (bounded) for "listening on http://127.0.0.1:PORT".
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  const auto at = out.find("://127.0.0.1:");
  require(at != std::string::npos, ErrorCode::server_unavailable,
          "server process: `fhellm serve` did not start ('" + out + "')");
  url_ = "http://127.0.0.1:" + std::to_string(std::stoi(out.substr(at + 13)));
  start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // `serve --random-weights` builds a float model before it encodes the
  // weights, which a server of an artifact never holds: the resident size
  // once listening is what serving costs, and the peak is counted from there
  // (writing 5 to clear_refs resets VmHWM to VmRSS).
  resident_after_start_mb_ = rss_mb();
  if (std::FILE* f = std::fopen(("/proc/" + std::to_string(pid_) + "/clear_refs").c_str(), "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

double ServerProcess::status_kb(const char* field) const {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid_) + "/status").c_str(), "r");
  if (f == nullptr) return 0;
  char line[256];
  double kb = 0;
  const std::string format = std::string(field) + ": %lf kB";
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, format.c_str(), &kb) == 1) break;
  std::fclose(f);
  return kb;
}

double ServerProcess::peak_rss_mb() const { return std::max(status_kb("VmHWM") / 1e3, resident_after_start_mb_); }

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool reaped = false;
    for (int i = 0; i < 1000 && !reaped; ++i) {
      reaped = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace fhellm::cli
