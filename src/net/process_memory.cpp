#include "net/process_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace fhellm::net {

std::uint64_t resident_bytes(pid_t pid) noexcept {
  const std::string path = pid == 0 ? "/proc/self/statm" : "/proc/" + std::to_string(pid) + "/statm";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

void release_free_memory() noexcept { ::malloc_trim(0); }

}  // namespace fhellm::net
