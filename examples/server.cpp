// Serves the server half of a compiled model until Ctrl-C.
//   fhellm compile --model models/stories260K.bin --out stories
//   fhellm_example_server stories.server 8600
#include <signal.h>
#include <cstdio>
#include <string>

#include <fhellm/server.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s NAME.server [PORT]\n", argv[0]);
    return 2;
  }
  sigset_t stop;  // wait for Ctrl-C or SIGTERM below, in this thread only
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  fhellm::ServerOptions options;
  options.artifact = argv[1];
  options.port = argc > 2 ? std::stoi(argv[2]) : 8600;  // 0: any free port
  fhellm::Status status;
  auto server = fhellm::Server::try_open(options, status);
  if (server) status = server->try_start();
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.message().c_str());
    return 1;
  }
  std::printf("%s\n", server->url().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  server->stop();
  std::printf("served %llu linear calls\n", static_cast<unsigned long long>(server->metrics().linear_calls));
  return 0;
}
