#include "cli_common.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/thread_pool.h"
#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "fhellm/version.h"

namespace fhellm::cli {

GlobalFlags& global_flags() {
  static GlobalFlags flags;
  return flags;
}

void add_sampling_options(CLI::App* cmd, GenerateOptions& s) {
  cmd->add_option("--temperature,--temp", s.temperature, "0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", s.top_p, "nucleus sampling mass")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--top-k", s.top_k, "keep the k most likely (0 = all)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "drop tokens below min-p times the most likely's probability (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "penalize the last --repeat-last-n ids (1 = off)")
      ->capture_default_str()
      ->check(CLI::Range(1e-3, 100.0));
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "ids the repeat penalty looks back on")->capture_default_str();
  cmd->add_option("-s,--seed", s.seed, "sampling seed")->capture_default_str();
}

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("-t,--threads", threads, "worker threads (0 = FHELLM_THREADS, else all cores)")
      ->check(CLI::Range(0, 1024));
}

void apply_threads(int threads) {
  if (threads > 0) ::setenv("FHELLM_THREADS", std::to_string(threads).c_str(), 1);
}

std::string prompt_text(const std::string& prompt, const std::string& prompt_file, bool prompt_given) {
  if (prompt_file.empty()) return prompt;
  require(!prompt_given, ErrorCode::bad_command_line, "give the prompt with -p TEXT or -f FILE, not both");
  std::ostringstream ss;
  if (prompt_file == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(prompt_file, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open prompt file '" + prompt_file + "'");
  ss << in.rdbuf();
  return ss.str();
}

std::string version_text() {
  std::ostringstream out;
  out << "fhellm " << FHELLM_VERSION_STRING << "\n";
  out << "build: " << FHELLM_BUILD_TYPE << ", GCC " << __VERSION__ << ", C++" << (__cplusplus / 100 % 100)
      << ", commit " << FHELLM_GIT_COMMIT << "\n";
  const bool avx2 = math::cpu_has_avx2(), ifma = math::cpu_has_avx512ifma();
  out << "cpu: avx2 " << (avx2 ? "yes" : "no") << ", avx512-ifma " << (ifma ? "yes" : "no")
      << "; kernels in use: " << (ifma ? "avx512-ifma" : avx2 ? "avx2" : "portable reference")
      << (std::getenv("FHELLM_NO_SIMD") ? " (FHELLM_NO_SIMD set)" : "") << "\n";
  out << "threads: " << n_threads() << " (-t/--threads or FHELLM_THREADS)\n";
  return out.str();
}

}  // namespace fhellm::cli
