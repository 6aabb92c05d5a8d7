#include "he/memory_size.h"

namespace fhellm::he {

namespace {

// One heap block: its payload and glibc's per-chunk header.
constexpr std::size_t kBlockOverhead = 16;
// A std::map node: three pointers, a colour, the key and the value (counted apart).
constexpr std::size_t kMapNodeOverhead = 4 * sizeof(void*) + kBlockOverhead;

template <class T>
std::size_t vector_bytes(const std::vector<T>& v) noexcept {
  return v.capacity() == 0 ? 0 : v.capacity() * sizeof(T) + kBlockOverhead;
}

}  // namespace

std::size_t memory_bytes(const RnsPoly& poly) noexcept {
  return poly.empty() ? 0 : poly.size() * sizeof(std::uint64_t) + kBlockOverhead;
}

std::size_t memory_bytes(const Ciphertext& ct) noexcept { return memory_bytes(ct.c0) + memory_bytes(ct.c1); }

std::size_t memory_bytes(const KeySwitchKey& key) noexcept {
  std::size_t total = vector_bytes(key.digits_per_prime) + vector_bytes(key.b) + vector_bytes(key.a);
  for (const RnsPoly& p : key.b) total += memory_bytes(p);
  for (const RnsPoly& p : key.a) total += memory_bytes(p);
  // The 32-bit copies (compact_key_words32): one make_shared block (control
  // block + vector) and the words' block each.
  for (const auto* words : {key.b32.get(), key.a32.get()})
    if (words) total += vector_bytes(*words) + 2 * sizeof(void*) + 8 + sizeof(*words) + kBlockOverhead;
  return total;
}

std::size_t memory_bytes(const GaloisKeys& keys) noexcept {
  std::size_t total = 0;
  for (const auto& [g, key] : keys.keys()) total += kMapNodeOverhead + sizeof(g) + sizeof(key) + memory_bytes(key);
  return total;
}

std::size_t memory_bytes(const HoistedGaloisKeys& keys) noexcept {
  // bytes() counts the two 32-bit vectors of each element; add their blocks and nodes.
  return keys.bytes() + keys.element_count() * (kMapNodeOverhead + 2 * kBlockOverhead + 64);
}

std::size_t memory_bytes(const SharedMaskKey& key) noexcept {
  std::size_t total = vector_bytes(key.to) + memory_bytes(key.zero_mask) + vector_bytes(key.zero_bodies);
  for (const auto& row : key.to) {
    total += vector_bytes(row);
    for (const KeySwitchKey& k : row) total += memory_bytes(k);
  }
  for (const RnsPoly& p : key.zero_bodies) total += memory_bytes(p);
  return total;
}

std::size_t memory_bytes(const LinearSessionKeys& keys) noexcept {
  std::size_t total = memory_bytes(keys.galois) + memory_bytes(keys.galois_composed) + memory_bytes(keys.galois_input) +
                      memory_bytes(keys.galois_sequential) + memory_bytes(keys.zero);
  if (keys.input_hoisted) total += memory_bytes(*keys.input_hoisted) + kBlockOverhead + 16;  // + control block
  if (keys.shared_mask) total += memory_bytes(*keys.shared_mask);
  if (keys.square) total += memory_bytes(*keys.square);
  return total;
}

std::size_t memory_bytes(const LinearServerKeys& keys) noexcept {
  std::size_t total = 0;
  for (ParamId id : all_parameter_ids())
    if (keys.has(id)) total += kMapNodeOverhead + sizeof(LinearSessionKeys) + memory_bytes(keys.get(id));
  return total;
}

}  // namespace fhellm::he
