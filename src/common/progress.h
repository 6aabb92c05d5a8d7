// Progress of a long step (compile, server start, eval, prefill, bench), for
// the tools to show: a bar redrawn in place on a terminal, plain lines when
// the stream is a pipe or a file (every 10%, flushed at once, so a log shows
// them as they happen).
//
//   fhellm::Progress p("compile: layers", n_layers);        // stderr
//   for (...) { ...; p.advance(); }
//   p.finish();                                             // also on destruction
//
// The library never prints: a long library call takes a ProgressCallback and
// the tool passes progress.callback(). Thread-safe: workers may advance it.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

namespace fhellm {

// Called with (units done, units in all; 0 = unknown) as a long call advances.
using ProgressCallback = std::function<void(std::uint64_t done, std::uint64_t total)>;

class Progress {
 public:
  struct Options {
    std::FILE* out = stderr;
    bool enabled = true;      // false: prints nothing (--quiet)
    int terminal = -1;        // -1: ask isatty(out); 0: plain lines; 1: bar
    std::chrono::milliseconds redraw{100};  // the bar's least interval between redraws
  };

  Progress(std::string label, std::uint64_t total);
  Progress(std::string label, std::uint64_t total, Options options);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  void advance(std::uint64_t n = 1);
  void set(std::uint64_t done);
  void set_total(std::uint64_t total);
  // Prints the last state (100% when the total is known and reached) and a newline.
  void finish();
  // A callback that sets this progress (done, total); valid while *this lives.
  ProgressCallback callback();

 private:
  void report_locked(bool final_line);
  std::string bar_locked(double elapsed_s) const;

  std::mutex mutex_;
  std::string label_;
  std::uint64_t done_ = 0, total_ = 0;
  Options options_;
  bool terminal_ = false, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace fhellm
