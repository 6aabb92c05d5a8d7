#include "common/progress.h"

#include <unistd.h>

#include <algorithm>

namespace fhellm {

Progress::Progress(std::string label, std::uint64_t total) : Progress(std::move(label), total, Options{}) {}

Progress::Progress(std::string label, std::uint64_t total, Options options)
    : label_(std::move(label)), total_(total), options_(options) {
  terminal_ = options_.terminal >= 0 ? options_.terminal == 1 : ::isatty(::fileno(options_.out)) == 1;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  report_locked(false);
}

Progress::~Progress() { finish(); }

void Progress::advance(std::uint64_t n) {
  std::lock_guard lock(mutex_);
  done_ += n;
  report_locked(false);
}

void Progress::set(std::uint64_t done) {
  std::lock_guard lock(mutex_);
  done_ = done;
  report_locked(false);
}

void Progress::set_total(std::uint64_t total) {
  std::lock_guard lock(mutex_);
  total_ = total;
  report_locked(false);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  report_locked(true);
  finished_ = true;
}

ProgressCallback Progress::callback() {
  return [this](std::uint64_t done, std::uint64_t total) {
    std::lock_guard lock(mutex_);
    done_ = done;
    total_ = total;
    report_locked(false);
  };
}

std::string Progress::bar_locked(double elapsed_s) const {
  char tail[96];
  if (total_ == 0) {
    std::snprintf(tail, sizeof tail, " %llu  %.1f s", static_cast<unsigned long long>(done_), elapsed_s);
    return label_ + tail;
  }
  constexpr int kWidth = 30;
  const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar = label_ + " [" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(kWidth - filled), '.') + "]";
  std::snprintf(tail, sizeof tail, " %3d%% %llu/%llu  %.1f s", static_cast<int>(fraction * 100),
                static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), elapsed_s);
  return bar + tail;
}

void Progress::report_locked(bool final_line) {
  if (!options_.enabled || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (terminal_) {
    if (!final_line && now - last_draw_ < options_.redraw && done_ != 0) return;
    last_draw_ = now;
    std::fprintf(options_.out, "\r\033[K%s%s", bar_locked(elapsed).c_str(), final_line ? "\n" : "");
    std::fflush(options_.out);
    return;
  }
  // Piped: one line per tenth of the total (or per final line when the total is unknown).
  const int decile = total_ == 0 ? -1 : static_cast<int>(std::min<std::uint64_t>(10, done_ * 10 / total_));
  if (!final_line && (total_ == 0 || decile <= last_decile_)) return;
  if (final_line && decile == last_decile_ && total_ != 0) return;  // its line is out already
  last_decile_ = decile;
  std::fprintf(options_.out, "%s\n", bar_locked(elapsed).c_str());
  std::fflush(options_.out);
}

}  // namespace fhellm
