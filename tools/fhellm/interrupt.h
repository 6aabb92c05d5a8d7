// Ctrl-C for commands that hold a server session: the first SIGINT (or
// SIGTERM) sets a flag the command polls between tokens; the command then
// unwinds, which closes its session (net::HttpChannel's destructor), and exits
// 130. A second signal ends the process at once.
#pragma once

namespace fhellm::cli {

// Installs the handlers for its lifetime (restores the previous ones after).
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

bool interrupted() noexcept;
// @throws Error(interrupted) once a signal came.
void throw_if_interrupted();

}  // namespace fhellm::cli
