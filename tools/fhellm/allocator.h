// The command line's choice of malloc behaviour for commands that run the
// encrypted product (serve, generate, eval, bench). The library sets no
// process-wide state; a program that serves chooses it here, once.
#pragma once

namespace fhellm::cli {

// A call of the encrypted product allocates and frees hundreds of 32 KB - 1 MB
// buffers. glibc's defaults return the heap top to the kernel whenever it
// shrinks past 128 KB, so the next call faults every page in again (zeroed by
// the kernel): about a sixth of the server's time. Keep up to 64 MiB of freed
// memory per arena, serve buffers below 32 MiB (glibc's largest threshold)
// from the heap (the embedding lookup's rotated inputs are 8-16 MiB per id:
// from mmap, every call faulted them in again), and cap the arenas at 4 so
// that idle connection threads cannot each hold their own.
void keep_freed_memory_for_serving();

}  // namespace fhellm::cli
