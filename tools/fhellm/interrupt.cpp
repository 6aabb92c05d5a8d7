#include "interrupt.h"

#include <signal.h>
#include <unistd.h>

#include "fhellm/error.h"

namespace fhellm::cli {

namespace {

volatile sig_atomic_t g_signals = 0;
struct sigaction g_old_int {}, g_old_term {};

extern "C" void on_stop_signal(int) {
  if (g_signals > 0) _exit(130);  // the second one: no more waiting
  g_signals = g_signals + 1;
}

}  // namespace

InterruptScope::InterruptScope() {
  g_signals = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a system call in progress finishes; the flag is read between tokens
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptScope::~InterruptScope() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

bool interrupted() noexcept { return g_signals > 0; }

void throw_if_interrupted() {
  if (interrupted()) throw Error(ErrorCode::interrupted, "stopped by a signal; the server session was closed");
}

}  // namespace fhellm::cli
