#include "allocator.h"

#include <malloc.h>

namespace fhellm::cli {

void keep_freed_memory_for_serving() {
  mallopt(M_ARENA_MAX, 4);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace fhellm::cli
