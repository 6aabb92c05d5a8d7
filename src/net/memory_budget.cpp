#include "net/memory_budget.h"

#include <utility>

namespace fhellm::net {

Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(std::exchange(other.bytes_, 0)) {}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::move(other.budget_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Reservation::~Reservation() { release(); }

void Reservation::release() noexcept {
  if (budget_ && bytes_ != 0) budget_->give_back(bytes_);
  bytes_ = 0;
  budget_.reset();
}

std::shared_ptr<MemoryBudget> MemoryBudget::make(std::uint64_t limit_bytes) {
  return std::shared_ptr<MemoryBudget>(new MemoryBudget(limit_bytes));
}

std::optional<Reservation> MemoryBudget::try_reserve(std::uint64_t bytes) {
  std::uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return std::nullopt;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return Reservation(shared_from_this(), bytes);
}

}  // namespace fhellm::net
