// `fhellm serve` as a child process of a benchmark, on a free loopback port;
// stopped (SIGTERM, then SIGKILL after 10 s) and reaped on destruction.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace fhellm::cli {

class ServerProcess {
 public:
  // Starts `fhellm serve <serve_args> --listen 127.0.0.1:0` and waits (at most
  // 5 minutes) for its "listening on" line.
  // @throws Error(io_error) when it cannot start, Error(server_unavailable)
  //         when it does not listen.
  explicit ServerProcess(const std::vector<std::string>& serve_args);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  // Seconds from spawn to listening (the weights are encoded before).
  double start_seconds() const { return start_seconds_; }
  // Resident memory once listening, MB.
  double resident_after_start_mb() const { return resident_after_start_mb_; }
  // Peak resident memory since it listens (VmHWM, reset when it started
  // listening), MB; 0 when it cannot be read.
  double peak_rss_mb() const;
  // Resident memory now (VmRSS), MB; 0 when it cannot be read.
  double rss_mb() const { return status_kb("VmRSS") / 1e3; }

 private:
  // A "Name: N kB" field of /proc/PID/status (0 when unreadable).
  double status_kb(const char* field) const;

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string url_;
  double start_seconds_ = 0;
  double resident_after_start_mb_ = 0;
};

}  // namespace fhellm::cli
