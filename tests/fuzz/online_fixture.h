// The small online layer of the online_wire harness and of its seeds
// (make_corpus.cpp): both build the same weights, so the seeds' digest is
// the service's and mutations reach past the header.
#pragma once

#include <random>
#include <vector>

#include "hybrid/online_service.h"

namespace fhellm::fuzz {

inline constexpr std::uint32_t kOnlineWire = 12, kOnlineN = 30, kOnlineK = 37, kOnlineRows = 2;

inline hybrid::OnlineService online_service() {
  std::vector<std::int8_t> w(std::size_t{kOnlineN} * kOnlineK);
  std::mt19937 rng(1);
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);  // symmetric int8
  std::vector<hybrid::OnlineService::Layer> layers;
  layers.push_back({kOnlineWire, kOnlineN, kOnlineK, std::move(w)});
  return hybrid::OnlineService(std::move(layers));
}

}  // namespace fhellm::fuzz
