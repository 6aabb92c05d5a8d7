// TokenId: a token's index in a model's vocabulary. Defined here, below both
// the tokenizer (which makes ids) and the model (which reads them), because
// neither layer depends on the other.
#pragma once

#include <cstdint>

namespace fhellm {

using TokenId = std::int32_t;

}  // namespace fhellm
