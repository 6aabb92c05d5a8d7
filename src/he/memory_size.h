// Bytes of memory held by key material, for servers that must count what a
// session holds (net::Server's per-session and server budgets).
//
// The count is of the heap blocks behind each object: vector capacities plus
// one allocator header per block (glibc: 16 bytes) and the map nodes of keyed
// containers. It is what the process's resident memory grows by when the
// object is built, up to allocator fragmentation (docs/protocol.md, "Limits",
// compares it with measured RSS).
#pragma once

#include <cstddef>

#include "he/ciphertext.h"
#include "he/hoisted_galois.h"
#include "he/keys.h"
#include "he/linear.h"
#include "he/shared_mask.h"

namespace fhellm::he {

std::size_t memory_bytes(const RnsPoly& poly) noexcept;
std::size_t memory_bytes(const Ciphertext& ct) noexcept;
std::size_t memory_bytes(const KeySwitchKey& key) noexcept;
std::size_t memory_bytes(const GaloisKeys& keys) noexcept;
std::size_t memory_bytes(const HoistedGaloisKeys& keys) noexcept;
std::size_t memory_bytes(const SharedMaskKey& key) noexcept;
std::size_t memory_bytes(const LinearSessionKeys& keys) noexcept;
// Every parameter set's keys of a session.
std::size_t memory_bytes(const LinearServerKeys& keys) noexcept;

}  // namespace fhellm::he
