// Generates text with the client half of a compiled model and a server
// (fhellm_example_server) that holds the other half.
//   fhellm_example_client stories.client http://127.0.0.1:8600 "Once upon a time"
#include <cstdio>
#include <string_view>

#include <fhellm/client.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s NAME.client URL PROMPT\n", argv[0]);
    return 2;
  }
  try {
    fhellm::ClientOptions options;
    options.artifact = argv[1];
    options.server_url = argv[2];
    fhellm::Client client(options);  // the secret key never leaves this process
    fhellm::GenerateOptions generate;
    generate.max_tokens = 16;
    std::printf("%s", argv[3]);
    client.generate(argv[3], generate, [](std::string_view piece) {
      std::printf("%.*s", static_cast<int>(piece.size()), piece.data());
      std::fflush(stdout);
      return true;  // false would stop here
    });
    const fhellm::ClientStats& s = client.last_stats();
    std::printf("\n%zu tokens, %.1f ms to the first, %.0f bytes up and %.0f down per token\n", s.n_generated_tokens,
                s.ttft_ms, double(s.bytes_up) / s.n_generated_tokens, double(s.bytes_down) / s.n_generated_tokens);
  } catch (const fhellm::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
