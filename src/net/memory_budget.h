// A byte budget shared by many holders (the server's memory: open sessions
// and request bodies in flight). A holder reserves before it allocates and
// gets a Reservation that gives the bytes back when destroyed. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

namespace fhellm::net {

class MemoryBudget;

// Bytes held against a budget; released on destruction (movable, not copyable).
class Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation();

  std::uint64_t bytes() const noexcept { return bytes_; }
  // Gives back everything now.
  void release() noexcept;

 private:
  friend class MemoryBudget;
  Reservation(std::shared_ptr<MemoryBudget> budget, std::uint64_t bytes) : budget_(std::move(budget)), bytes_(bytes) {}
  std::shared_ptr<MemoryBudget> budget_;
  std::uint64_t bytes_ = 0;
};

class MemoryBudget : public std::enable_shared_from_this<MemoryBudget> {
 public:
  // Use make(): reservations keep the budget alive.
  static std::shared_ptr<MemoryBudget> make(std::uint64_t limit_bytes);

  // Reserves `bytes` if they fit under the limit, else nullopt (nothing taken).
  std::optional<Reservation> try_reserve(std::uint64_t bytes);

  std::uint64_t limit() const noexcept { return limit_; }
  std::uint64_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  friend class Reservation;
  explicit MemoryBudget(std::uint64_t limit) : limit_(limit) {}
  void give_back(std::uint64_t bytes) noexcept { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0};
};

}  // namespace fhellm::net
