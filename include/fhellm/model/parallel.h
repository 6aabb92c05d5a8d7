// The engine's process-wide worker pool (attention heads, the integer
// products of simulate, random weight generation). Threads: FHELLM_THREADS,
// else the hardware's.
#pragma once

#include <cstddef>
#include <functional>

namespace fhellm::model {

// Number of threads used (FHELLM_THREADS, else the hardware's).
std::size_t n_threads();

// Calls fn(begin, end) over [0, n) split into at most n_threads() chunks of
// at least min_chunk items; runs inline when the work is small. Blocks until
// every chunk is done. fn must not throw.
void parallel_for(std::size_t n, std::size_t min_chunk, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace fhellm::model
