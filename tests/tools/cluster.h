// The services of a deployment on loopback for the end-to-end tests:
// redis-server and HAProxy (Debian's, found on PATH or in /usr/sbin) and
// `fhellm serve` replicas, each on a free port, each a ChildProcess (stopped,
// SIGTERM then SIGKILL, when its object goes, also when a test fails).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tools/ports.h"
#include "tools/process.h"

namespace fhellm::testing {

// The program's path, or "" when it is not installed.
inline std::string find_program(const std::string& name) {
  std::string path = ::getenv("PATH") ? ::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::filesystem::path p = std::filesystem::path(path.substr(start, end - start)) / name;
    if (!p.parent_path().empty() && ::access(p.c_str(), X_OK) == 0) return p.string();
    start = end + 1;
  }
  return {};
}

// redis-server on a free port, its files in `dir`; `persistent`: an
// append-only file synced at every write (what sessions need to survive a
// restart); otherwise nothing on disk.
class RedisProcess {
 public:
  RedisProcess(std::filesystem::path dir, bool persistent, int port = 0)
      : dir_(std::move(dir)), persistent_(persistent), port_(port != 0 ? port : free_port()) {
    start();
  }
  void start() {
    const std::string program = find_program("redis-server");
    if (program.empty()) throw std::runtime_error("redis-server is not installed (scripts/setup.sh installs it)");
    std::filesystem::create_directories(dir_);
    std::vector<std::string> argv = {program, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir",
                                     dir_.string(), "--save", "", "--daemonize", "no",
                                     "--logfile", (dir_ / "redis.log").string()};
    if (persistent_) {
      argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    } else {
      argv.insert(argv.end(), {"--appendonly", "no"});
    }
    process_ = std::make_unique<ChildProcess>(argv, true);
    if (!wait_for_port(port_, std::chrono::seconds(20))) {
      throw std::runtime_error("redis-server did not start (" + (dir_ / "redis.log").string() + ")");
    }
  }
  void stop() { process_->stop(); }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  std::filesystem::path dir_;
  bool persistent_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// HAProxy in front of `backends` (ports on loopback): round robin per request,
// health checks on GET /health every 200 ms, a request that found no
// connection to its replica sent to another (retry-on conn-failure): never
// one that reached a replica (its sequence number may be spent).
class HaproxyProcess {
 public:
  HaproxyProcess(const std::filesystem::path& dir, const std::vector<int>& backends) : port_(free_port()) {
    const std::string program = find_program("haproxy");
    if (program.empty()) throw std::runtime_error("haproxy is not installed (scripts/setup.sh installs it)");
    const std::filesystem::path config = dir / "haproxy.cfg";
    std::ofstream out(config);
    out << "global\n  maxconn 512\n"
        << "defaults\n  mode http\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n"
        << "  retries 3\n  option redispatch 1\n  retry-on conn-failure\n"
        // No replica up (Redis restarting: every /health is 503): the client waits a second per try.
        << "  http-error status 503 content-type text/plain string \"no replica is up\" hdr Retry-After 1\n"
        << "frontend fhellm\n  bind 127.0.0.1:" << port_ << "\n  default_backend replicas\n"
        << "  stats enable\n  stats uri /haproxy-stats\n"
        << "backend replicas\n  balance roundrobin\n  option httpchk GET /health\n"
        << "  http-check expect status 200\n  default-server inter 200ms fall 2 rise 1\n";
    for (std::size_t i = 0; i < backends.size(); ++i) {
      out << "  server r" << i << " 127.0.0.1:" << backends[i] << " check\n";
    }
    out.close();
    process_ = std::make_unique<ChildProcess>(std::vector<std::string>{program, "-db", "-q", "-f", config.string()}, true);
    if (!wait_for_port(port_, std::chrono::seconds(20))) {
      throw std::runtime_error("haproxy did not start: " + process_->output());
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // HAProxy's statistics as CSV (raw HTTP/1.0 on a socket: the path's ';'
  // must reach HAProxy as it is).
  std::string stats_csv() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string request = "GET /haproxy-stats;csv HTTP/1.0\r\n\r\n";
      if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::close(fd);
    // HAProxy sends it chunked, even to HTTP/1.0: hex size, CRLF, bytes, CRLF.
    std::size_t at = reply.find("\r\n\r\n");
    if (at == std::string::npos) return {};
    at += 4;
    std::string body;
    while (at < reply.size()) {
      const std::size_t line = reply.find("\r\n", at);
      if (line == std::string::npos) break;
      const std::size_t size = std::stoul(reply.substr(at, line - at), nullptr, 16);
      if (size == 0) break;
      body += reply.substr(line + 2, size);
      at = line + 2 + size + 2;
    }
    return body;
  }

  // A counter of the backend's row in HAProxy's CSV statistics (`csv`:
  // stats_csv()), e.g. "wretr" (requests retried),
  // "wredis" (sent to another replica), "eresp" (replies that failed), -1 if absent.
  static long long backend_counter(const std::string& csv, const std::string& column) {
    std::vector<std::vector<std::string>> rows;
    std::size_t start = 0;
    while (start < csv.size()) {
      const std::size_t end = std::min(csv.find('\n', start), csv.size());
      std::vector<std::string> cells;
      std::size_t c = start;
      while (c <= end) {
        const std::size_t comma = std::min(csv.find(',', c), end);
        cells.push_back(csv.substr(c, comma - c));
        c = comma + 1;
      }
      rows.push_back(std::move(cells));
      start = end + 1;
    }
    if (rows.empty() || rows[0].empty()) return -1;
    rows[0][0] = rows[0][0].substr(rows[0][0].find_first_not_of("# "));  // "# pxname"
    std::size_t col = 0;
    while (col < rows[0].size() && rows[0][col] != column) ++col;
    for (const auto& r : rows) {
      if (r.size() > col && r.size() > 1 && r[0] == "replicas" && r[1] == "BACKEND") {
        return r[col].empty() ? 0 : std::stoll(r[col]);
      }
    }
    return -1;
  }

 private:
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// A `fhellm serve` replica on a fixed port (so it comes back on the same one).
class Replica {
 public:
  Replica(std::vector<std::string> args, int port = 0) : args_(std::move(args)), port_(port != 0 ? port : free_port()) {
    start();
  }
  void start() {
    std::vector<std::string> argv = {fhellm_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    process_ = std::make_unique<ChildProcess>(argv);
    const std::string out = process_->read_until("listening", std::chrono::seconds(120));
    if (out.find("listening") == std::string::npos) throw std::runtime_error("fhellm serve did not start: " + out);
  }
  void kill_now() { process_->kill_now(); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::vector<std::string> args_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace fhellm::testing
