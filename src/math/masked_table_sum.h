// The online mode's clear token-table lookup on the server (docs/online.md):
// the client sends, per token, V = onehot(id) - R mod 256 (one byte per table
// row) and the server returns
//   y[t][d] = (sum_j v[t][j] * table[j][d]) mod 256
// for t < rows, j < table_rows, d < width: v bytes (row-major
// [rows x table_rows], any value 0..255), table int8 (row-major
// [table_rows x width], the embedding as the server holds it), y bytes
// (row-major [rows x width]). Only the sum mod 256 matters, so the kernels
// use wrapping integer lanes (exact mod 2^16 or 2^32, hence mod 256).
//
// Kernels: the reference (int64 sums), AVX2 (the table bytes as int16 lanes,
// even and odd columns apart, vpmullw by v broadcast and vpaddw) and AVX-512
// VNNI (four table rows interleaved byte-wise, vpdpbusd adds four products
// per int32 lane). Up to three rows (a decoded token) sweep the column range
// four table rows at a time, prefetching ahead, so the table is read in order
// at the memory's bandwidth; more rows copy the table span by span into a
// 32 KB buffer that every tile of up to 6 rows then reads from the L1 cache,
// so the table still crosses memory once.
// Single-threaded: callers split the columns into ranges across threads.
// Give each thread one contiguous range (width / threads columns, a multiple
// of 64): a thread then reads long runs of each table row. Many narrow ranges
// read it in short strided pieces (256-column ranges ran at 0.3 to 0.4 times
// the speed of whole-width ones, one row, AMD EPYC Zen 4).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

inline constexpr std::size_t kMaskedTableMaxRows = 512;                      // tokens per call
inline constexpr std::size_t kMaskedTableMaxTableRows = std::size_t{1} << 18;  // vocabulary
inline constexpr std::size_t kMaskedTableMaxWidth = 8192;                    // embedding width

// Columns [d_begin, d_end) of y; y keeps its row stride `width` and its other
// columns are left untouched. An empty range (d_begin == d_end) writes nothing.
// Dispatches to the fastest kernel this CPU has (math/cpu_features.h: the
// FHELLM_NO_SIMD and FHELLM_SIMD=avx2 overrides apply).
// @throws Error(invalid_argument) for a null pointer, zero sizes, rows > 512,
//         table_rows > 2^18, width > 8192 or a column range outside [0, width).
void masked_table_sum_range(const std::uint8_t* v, std::size_t rows, const std::int8_t* table,
                            std::size_t table_rows, std::size_t width, std::size_t d_begin, std::size_t d_end,
                            std::uint8_t* y);

// All columns. @throws as masked_table_sum_range.
void masked_table_sum(const std::uint8_t* v, std::size_t rows, const std::int8_t* table, std::size_t table_rows,
                      std::size_t width, std::uint8_t* y);

// Portable reference (int64 sums, then mod 256), same contract.
void masked_table_sum_reference(const std::uint8_t* v, std::size_t rows, const std::int8_t* table,
                                std::size_t table_rows, std::size_t width, std::uint8_t* y);

// "avx512", "avx2" or "scalar": the kernel masked_table_sum uses now. The
// AVX-512 kernel needs AVX-512 F/BW + VNNI (math/cpu_features.h).
const char* masked_table_sum_kernel_name();

}  // namespace fhellm::math
