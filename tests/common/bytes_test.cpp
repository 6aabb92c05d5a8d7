#include "common/bytes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fhellm {
namespace {

TEST(Bytes, RoundTripsEveryWidthLittleEndian) {
  Bytes out;
  ByteWriter w(out);
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(0x0102030405060708ull);
  w.i32(-5);
  w.i64(std::numeric_limits<std::int64_t>::min());
  w.f32(1.5f);
  w.f64(-0.25);
  const std::uint8_t raw[3] = {7, 8, 9};
  w.blob(raw);
  EXPECT_EQ(out[1], 0x34);  // little-endian
  EXPECT_EQ(out[2], 0x12);

  ByteReader r(out, "test object");
  EXPECT_EQ(r.u8(), 0xab);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  EXPECT_EQ(r.i32(), -5);
  EXPECT_EQ(r.i64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r.f32(), 1.5f);
  EXPECT_EQ(r.f64(), -0.25);
  const ByteView b = r.blob(3, "raw");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], 9);
  EXPECT_EQ(r.remaining(), 0u);
  r.expect_end();
}

TEST(Bytes, TruncatedReadNamesTheObjectFieldAndOffset) {
  const Bytes in = {1, 2, 3, 4, 5, 6};
  ByteReader r(in, "model description");
  r.u32("magic");
  try {
    r.u32("n_layers");
    FAIL() << "read past the end";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::truncated);
    const std::string m = e.what();
    EXPECT_NE(m.find("model description"), std::string::npos) << m;
    EXPECT_NE(m.find("n_layers"), std::string::npos) << m;
    EXPECT_NE(m.find("offset 4"), std::string::npos) << m;
  }
  EXPECT_EQ(r.offset(), 4u);  // a failed read consumes nothing
  EXPECT_EQ(r.take(2, "tail").size(), 2u);
}

TEST(Bytes, LengthsAreCheckedAgainstTheLimitBeforeTheBytesLeft) {
  Bytes in;
  ByteWriter w(in);
  w.u32(1000);
  w.u32(1);
  {
    ByteReader r(in, "frame");
    try {
      r.blob(100, "payload");
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::length_too_large);
    }
  }
  {
    ByteReader r(in, "frame");
    try {
      r.count(5000, 8, "rows");  // 1000 rows of >= 8 bytes cannot fit in 4 bytes
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::truncated);
    }
  }
  ByteReader r(in, "frame");
  r.u32();
  try {
    r.expect_end();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::trailing_bytes);
  }
}

TEST(Bytes, WriterAppendsAndPatches) {
  Bytes out = {9};
  ByteWriter w(out);
  w.u32(0);
  auto space = w.append(3);
  space[1] = 5;
  w.patch_u32(1, 0x01020304);
  EXPECT_EQ(out, (Bytes{9, 4, 3, 2, 1, 0, 5, 0}));
  EXPECT_THROW(w.patch_u32(6, 1), Error);
}

}  // namespace
}  // namespace fhellm
