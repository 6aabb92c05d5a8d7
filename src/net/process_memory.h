// The memory a process holds, as the kernel counts it, and giving freed heap
// memory back to it.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace fhellm::net {

// Resident set size of process `pid` (0: this process) in bytes, from
// /proc/PID/statm; 0 when it cannot be read.
std::uint64_t resident_bytes(pid_t pid = 0) noexcept;

// Returns the heap's free pages to the system (glibc malloc_trim: every
// arena, including the free pages between used blocks). An action, not a
// setting: the allocator's thresholds are left as they are. Costs about a
// millisecond per GB of heap, so the server calls it after large frees only.
void release_free_memory() noexcept;

}  // namespace fhellm::net
