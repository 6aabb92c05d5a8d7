// Internal: the secret keys a LinearClient holds per parameter set (shared by
// linear_client.cpp and lookup_client.cpp). Never leave the client.
#pragma once

#include <vector>

#include "he/context.h"
#include "he/decryptor.h"
#include "he/keys.h"
#include "he/linear.h"

namespace fhellm::he {

struct LinearClient::SetKeys {
  ContextPtr context;
  SecretKey secret;
  // Targets of the shared-mask reply groups (linear_shared_mask_available sets).
  std::vector<SecretKey> targets;
  // Decryptors for the secret, then for every target: built once, since each
  // precomputes its secret's transforms (five per reply cost 7% of a
  // client's time per token when built per call).
  std::vector<Decryptor> decryptors;
};

}  // namespace fhellm::he
