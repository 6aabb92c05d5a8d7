// The SIMD versions of blocked_products (same contract, q < 2^30), called by
// the dispatcher in blocked_product.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

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
                                    std::uint64_t* const* out, const std::uint8_t* next) noexcept;
void blocked_products_packed_avx2(const std::uint32_t* const* x, std::size_t rows, const std::uint8_t* packed,
                                  std::size_t entries, std::size_t terms, std::uint64_t q,
                                  std::uint64_t* const* out, const std::uint8_t* next) noexcept;

void unpack_words28_avx2(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;
void unpack_words28_avx512(const std::uint8_t* packed, std::size_t units, std::uint32_t* words) noexcept;

}  // namespace fhellm::math
