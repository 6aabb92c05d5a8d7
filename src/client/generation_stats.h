// The facade's figures of a call (ClientStats) from the hybrid layer's
// results and the execute session's running totals: shared by Client and the
// benchmarks that drive a HybridModel directly.
#pragma once

#include "fhellm/client.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"

namespace fhellm::client {

// a + b: the figures of two sessions together (the online mode's online
// session and its fallback's).
hybrid::ExecuteStats sum_stats(const hybrid::ExecuteStats& a, const hybrid::ExecuteStats& b);

// Token counts and timings of a generation (all modes).
ClientStats generation_stats(const hybrid::GenerationResult& r);

// Adds what the execute session did between `before` and `after` to `s`, with
// the prompt (before .. first: up to the first token) and the later tokens
// (first .. after) apart. For calls without a first token, first = after.
void add_execute_figures(ClientStats& s, const hybrid::ExecuteStats& before, const hybrid::ExecuteStats& first,
                         const hybrid::ExecuteStats& after);

}  // namespace fhellm::client
