// Reading a session's key bundle without parsing it (peek_linear_server_keys)
// and counting the memory parsed keys hold (memory_size.h).
#include <gtest/gtest.h>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/memory_size.h"

namespace fhellm::he {
namespace {

template <class F>
ErrorCode code_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;
}

TEST(KeyBundle, PeekFindsEverySetAndItsRecordWithoutParsing) {
  const LinearClient client;
  const std::vector<std::uint8_t> bytes = client.server_keys().save();
  const auto sets = peek_linear_server_keys(bytes);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].id, ParamId::n2048_q54);
  EXPECT_EQ(sets[1].id, ParamId::n4096_q108);
  EXPECT_EQ(8 + sets[0].bytes + sets[1].bytes, bytes.size());
  for (std::size_t n : {std::size_t{0}, std::size_t{7}, std::size_t{9}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_EQ(code_of([&] { peek_linear_server_keys({bytes.data(), n}); }), ErrorCode::truncated) << n;
  auto more = bytes;
  more.push_back(0);
  EXPECT_EQ(code_of([&] { peek_linear_server_keys(more); }), ErrorCode::trailing_bytes);
  auto bad = bytes;
  bad[8] = 0x7F;  // the first set's parameter id
  EXPECT_EQ(code_of([&] { peek_linear_server_keys(bad); }), ErrorCode::unknown_parameter_id);
}

TEST(KeyBundle, MemoryCountAddsUpItsParts) {
  const LinearClient client({ParamId::n2048_q54});
  const LinearServerKeys keys = LinearServerKeys::load(client.server_keys().save());
  const LinearSessionKeys& k = keys.get(ParamId::n2048_q54);
  const std::size_t parts = memory_bytes(k.galois) + memory_bytes(k.galois_input) +
                            memory_bytes(k.galois_sequential) + memory_bytes(k.zero) +
                            (k.input_hoisted ? memory_bytes(*k.input_hoisted) : 0) +
                            (k.shared_mask ? memory_bytes(*k.shared_mask) : 0) +
                            (k.square ? memory_bytes(*k.square) : 0);
  ASSERT_TRUE(k.square.has_value());  // n2048_q54 carries the lookup's square key
  EXPECT_GE(memory_bytes(keys), parts);
  EXPECT_LT(memory_bytes(keys), parts + 4096);
  // A polynomial: its words and one allocator header.
  EXPECT_EQ(memory_bytes(k.zero.c0), 8 * k.zero.c0.size() + 16);
  EXPECT_EQ(memory_bytes(RnsPoly()), 0u);
}

}  // namespace
}  // namespace fhellm::he
