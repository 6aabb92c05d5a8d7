// The SIMD versions of blocked_products (same contract, q < 2^30), called by
// the dispatcher in blocked_product.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

// The packed weights a one-row kernel prefetches into L2 as it reads a
// slice: `distance` bytes ahead of its reads, in this slice and then in the
// caller's next one (null: none), one 64-byte line per call of line().
// A slice shorter than the distance gets the whole next slice ahead; far
// more than the L2 holds would evict the lines before their use.
class ReadAhead {
 public:
  ReadAhead(const std::uint8_t* slice, std::size_t bytes, const std::uint8_t* next, std::size_t distance) {
    const std::size_t d = distance < bytes ? distance : bytes;
    at_ = reinterpret_cast<const char*>(slice) + d;
    end_ = reinterpret_cast<const char*>(slice) + bytes;
    if (next != nullptr) {
      then_ = reinterpret_cast<const char*>(next);
      then_end_ = then_ + d;
    }
  }
  void line() {
    if (at_ >= end_) {
      if (then_ == nullptr) return;
      at_ = then_;
      end_ = then_end_;
      then_ = nullptr;
    }
    __builtin_prefetch(at_, 0, 2);  // prefetcht1: into L2
    at_ += 64;
  }

 private:
  const char* at_ = nullptr;
  const char* end_ = nullptr;
  const char* then_ = nullptr;
  const char* then_end_ = nullptr;
};

// The kernels' policy where the slice is already in cache (unpacked words
// of a many-row call): nothing to prefetch, nothing in the loop.
struct NoReadAhead {
  void line() {}
};

// Terms whose 64-bit sum cannot overflow (the kernels reduce after each run).
std::size_t blocked_products_run(std::uint64_t q) noexcept;

void blocked_products_avx2(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                           std::size_t entries, std::size_t terms, std::uint64_t q, std::uint64_t* const* out) noexcept;
void blocked_products_avx512(const std::uint32_t* const* x, std::size_t rows, const std::uint32_t* w,
                             std::size_t entries, std::size_t terms, std::uint64_t q,
                             std::uint64_t* const* out) noexcept;

// blocked_products_packed's kernels: each unit unpacked in registers where
// it is used, the `next` slice (same size; null: none) read into L2 as they go.
void blocked_products_packed_avx512(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                                    std::size_t entries, std::size_t terms, std::uint64_t q,
                                    std::uint64_t* const* out, const std::uint8_t* next,
                                    std::size_t distance) noexcept;
void blocked_products_packed_avx2(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                                  std::size_t entries, std::size_t terms, std::uint64_t q,
                                  std::uint64_t* const* out, const std::uint8_t* next,
                                  std::size_t distance) noexcept;

void unpack_words27_avx2(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;
void unpack_words27_avx512(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;

// gather_blocked_narrow for permutations that keep blocks.
void gather_blocked_narrow_avx2(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                std::uint32_t* dst, std::size_t dst_stride) noexcept;
void gather_blocked_narrow_avx512(const std::uint64_t* src, const std::uint32_t* perm, std::size_t n,
                                  std::uint32_t* dst, std::size_t dst_stride) noexcept;

}  // namespace fhellm::math
