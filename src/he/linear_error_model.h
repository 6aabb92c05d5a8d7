// The decoded error of the default precision, per output, for given weights:
// what `simulate` draws so that a user judges accuracy in clear with the
// rounding `execute` really has (docs/linear.md, "Error model").
//
// A decrypted output is round((Delta y + noise) / Delta) = y + round(noise /
// Delta), with noise the sum of independent terms (LinearNoise): the upload's
// error times the weights the output reads, the input-side key switches
// times the folded weights of its tree entry, the tree's and re-randomization
// key switches, the body and mask rounding and the flood. The bound of the
// plan takes |w| = 128 everywhere; here the real weights' norms enter, so the
// variance is the plan's model for these weights, not a bound.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "he/linear_layout.h"

namespace fhellm::he {

// Standard deviation of noise / Delta for each output of a call of `plan`
// (n values; rows share them). 0 for every output in exact precision.
// w: n x k int8, row-major. @throws Error(invalid_argument) for a size mismatch.
std::vector<double> linear_error_std(const LinearPlan& plan, std::span<const std::int8_t> w);

}  // namespace fhellm::he
