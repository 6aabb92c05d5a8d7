// The online payloads (hybrid/online_wire.h) and the server's answers to
// hostile ones: every malformed, oversized, out-of-range or foreign message
// gets its error code and the service keeps serving.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <utility>

#include "fhellm/error.h"
#include "he/bit_packing.h"
#include "he/linear.h"
#include "hybrid/online_service.h"
#include "hybrid/online_wire.h"
#include "hybrid/remote_model.h"

namespace fhellm::hybrid {
namespace {

constexpr std::uint32_t kWire = 12, kN = 30, kK = 37;  // 37 values of 22 bits do not fill whole bytes

OnlineService service() {
  std::vector<std::int8_t> w(kN * kK);
  std::mt19937 rng(1);
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);  // symmetric int8
  std::vector<OnlineService::Layer> layers;
  layers.push_back({kWire, kN, kK, w});
  return OnlineService(std::move(layers));
}

online::OnlineRows valid_rows(const OnlineService& s, std::uint32_t rows) {
  const auto info = online::decode_online_info(s.info(online::encode_online_query()));
  online::OnlineRows m;
  m.rows = rows;
  m.k = kK;
  m.n = kN;
  m.p = info.at(0).p;
  m.digest = info.at(0).digest;
  m.values.resize(std::size_t{rows} * kK);
  std::mt19937 rng(2);
  for (auto& v : m.values) v = static_cast<std::uint32_t>(rng() % m.p);
  return m;
}

ErrorCode call_error(const OnlineService& s, const Bytes& payload, std::uint32_t wire = kWire) {
  try {
    (void)s.call(wire, payload, 1);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // accepted
}

void put_u32(Bytes& b, std::size_t off, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(Bytes& b, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

TEST(OnlineWire, TheServiceComputesVWModP) {
  const OnlineService s = service();
  const online::OnlineRows m = valid_rows(s, 3);
  const Bytes reply = s.call(kWire, online::encode_online_rows(m), 2);
  const auto y = online::decode_online_result(reply, 3, kN, m.p);
  ASSERT_EQ(y.size(), 3u * kN);
  // Against a plain sum (the weights of service()).
  std::vector<std::int8_t> w(kN * kK);
  std::mt19937 rng(1);
  for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);  // symmetric int8
  for (std::uint32_t t = 0; t < 3; ++t)
    for (std::uint32_t j = 0; j < kN; ++j) {
      __int128 sum = 0;
      for (std::uint32_t i = 0; i < kK; ++i) sum += static_cast<__int128>(m.values[t * kK + i]) * w[j * kK + i];
      const auto p = static_cast<__int128>(m.p);
      EXPECT_EQ(y[t * kN + j], static_cast<std::uint32_t>(((sum % p) + p) % p));
    }
  EXPECT_EQ(s.call_rows(kWire, online::encode_online_rows(m)), 3u);
}

// call_rows prices a call for the per-key row budgets before any work: it
// must refuse what call() refuses from the header and the length (a hostile
// row count cannot spend, or dodge, a budget), without reading the values.
// A token table (docs/online.md section 10): rows of V values mod 2^8 against
// E (V x width, row-major), V past a product's k limit.
constexpr std::uint32_t kTableWire = 5, kVocab = 9001, kWidth = 24;

std::vector<std::int8_t> table_values() {
  std::vector<std::int8_t> e(std::size_t{kVocab} * kWidth);
  std::mt19937 rng(3);
  for (auto& v : e) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  return e;
}

TEST(OnlineWire, TheServiceComputesTableRowsMod256) {
  std::vector<OnlineService::Layer> layers;
  layers.push_back({kTableWire, kWidth, kVocab, table_values(), true});
  const OnlineService s(std::move(layers));
  const auto info = online::decode_online_info(s.info(online::encode_online_query()));
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].p, he::kOnlineTableModulus);
  EXPECT_EQ(info[0].k, kVocab);
  online::OnlineRows m{2, kVocab, kWidth, he::kOnlineTableModulus, info[0].digest, {}, {}};
  std::mt19937 rng(4);
  m.bytes.resize(std::size_t{2} * kVocab);
  for (auto& v : m.bytes) v = static_cast<std::uint8_t>(rng() % 256);
  const Bytes payload = online::encode_online_rows(m);
  EXPECT_EQ(payload.size(), 60u + 2u * kVocab);  // one byte per table row
  // Table rows stay bytes on both sides; words for a table are refused.
  const online::OnlineRows back = online::decode_online_rows(payload);
  EXPECT_EQ(back.bytes, m.bytes);
  EXPECT_TRUE(back.values.empty());
  online::OnlineRows words = m;
  words.values.assign(m.bytes.begin(), m.bytes.end());
  words.bytes.clear();
  EXPECT_THROW(online::encode_online_rows(words), Error);
  Bytes longer = payload;
  longer.push_back(0);
  EXPECT_THROW(online::decode_online_rows(longer), Error);
  const auto y = online::decode_online_result(s.call(kTableWire, payload, 2), 2, kWidth, 256);
  const auto e = table_values();
  for (std::uint32_t t = 0; t < 2; ++t)
    for (std::uint32_t d = 0; d < kWidth; ++d) {
      std::int64_t sum = 0;
      for (std::uint32_t j = 0; j < kVocab; ++j) sum += std::int64_t{m.bytes[t * kVocab + j]} * e[j * kWidth + d];
      EXPECT_EQ(y[t * kWidth + d], static_cast<std::uint32_t>(((sum % 256) + 256) % 256));
    }
  EXPECT_EQ(s.call_rows(kTableWire, payload), 2u);
  // Hostile: a product's modulus for the table, a value >= 2^8 (9 bits: another
  // length), a vocabulary past 2^18, other material.
  auto code = [&](const Bytes& b) {
    try {
      (void)s.call(kTableWire, b, 1);
    } catch (const Error& err) {
      return err.code();
    }
    return ErrorCode::internal_error;
  };
  Bytes b = payload;
  put_u64(b, 20, 257);  // not the table's modulus: then k = V is past a product's limit
  EXPECT_EQ(code(b), ErrorCode::shape_mismatch);
  b = payload;
  put_u32(b, 12, he::kLinearMaxTableIn + 1);
  EXPECT_EQ(code(b), ErrorCode::shape_mismatch);
  b = payload;
  put_u32(b, 12, kVocab - 1);  // another table
  EXPECT_NE(code(b), ErrorCode::internal_error);
  b = payload;
  b[28] ^= 1;
  EXPECT_EQ(code(b), ErrorCode::stale_material);
  b = payload;
  b.pop_back();
  EXPECT_EQ(code(b), ErrorCode::truncated);
  // The same bytes as a product's rows: a table's modulus for a product's k is refused.
  EXPECT_EQ(call_error(service(), payload), ErrorCode::shape_mismatch);
}

TEST(OnlineWire, CallRowsRefusesWhatTheCallRefusesFromItsHeader) {
  const OnlineService s = service();
  const online::OnlineRows m = valid_rows(s, 2);
  const Bytes good = online::encode_online_rows(m);
  auto rows_error = [&](const Bytes& b, std::uint32_t wire = kWire) {
    try {
      (void)s.call_rows(wire, b);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;  // accepted
  };
  EXPECT_EQ(rows_error(good), ErrorCode::internal_error);
  EXPECT_EQ(rows_error(good, 99), ErrorCode::unknown_layer);
  std::vector<std::pair<std::function<void(Bytes&)>, ErrorCode>> cases = {
      {[](Bytes& b) { b.pop_back(); }, ErrorCode::truncated},
      {[](Bytes& b) { b.push_back(0); }, ErrorCode::trailing_bytes},
      {[](Bytes& b) { put_u32(b, 8, 3); }, ErrorCode::truncated},
      {[](Bytes& b) { put_u32(b, 8, 0); }, ErrorCode::shape_mismatch},
      {[](Bytes& b) { put_u32(b, 8, 100000); }, ErrorCode::shape_mismatch},
      {[](Bytes& b) { put_u32(b, 16, kN + 1); }, ErrorCode::shape_mismatch},
      {[&](Bytes& b) { put_u64(b, 20, m.p + 1); }, ErrorCode::parameter_mismatch},
      {[](Bytes& b) { b[28] ^= 1; }, ErrorCode::stale_material},
      {[](Bytes& b) { b[4] = 9; }, ErrorCode::bad_version},
      {[](Bytes& b) { b[0] = 'X'; }, ErrorCode::bad_magic},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    Bytes b = good;
    cases[i].first(b);
    EXPECT_EQ(rows_error(b), cases[i].second) << "case " << i;
    EXPECT_EQ(call_error(s, b), cases[i].second) << "case " << i;
  }
}

TEST(OnlineWire, ValuesUseTheBitStreamOfHeBitPacking) {
  const OnlineService s = service();
  for (std::uint32_t rows : {1u, 2u, 5u}) {
    const online::OnlineRows m = valid_rows(s, rows);
    const Bytes b = online::encode_online_rows(m);
    const std::vector<std::uint64_t> wide(m.values.begin(), m.values.end());
    const auto packed = he::pack_bits(wide, he::bit_width_for_modulus(m.p));
    ASSERT_EQ(b.size(), 60 + packed.size());
    EXPECT_TRUE(std::equal(packed.begin(), packed.end(), b.begin() + 60)) << rows << " rows";
    EXPECT_EQ(online::decode_online_rows(b).values, m.values);
  }
}

TEST(OnlineWire, HostileRowsGetTheirCodes) {
  const OnlineService s = service();
  const online::OnlineRows m = valid_rows(s, 2);
  const Bytes good = online::encode_online_rows(m);
  ASSERT_EQ(call_error(s, good), ErrorCode::internal_error);  // the valid message is accepted

  Bytes b = good;
  b.pop_back();
  EXPECT_EQ(call_error(s, b), ErrorCode::truncated);
  b = good;
  b.push_back(0);
  EXPECT_EQ(call_error(s, b), ErrorCode::trailing_bytes);
  b = good;
  b.resize(20);
  EXPECT_EQ(call_error(s, b), ErrorCode::truncated);
  b = good;
  put_u32(b, 8, 3);  // claims a third row it does not carry
  EXPECT_EQ(call_error(s, b), ErrorCode::truncated);
  b = good;
  put_u32(b, 8, 0);
  EXPECT_EQ(call_error(s, b), ErrorCode::shape_mismatch);
  b = good;
  put_u32(b, 8, 100000);  // far beyond the row limit: refused before any allocation
  EXPECT_EQ(call_error(s, b), ErrorCode::shape_mismatch);
  b = good;
  put_u32(b, 12, kK + 1);  // another k: another modulus, and another layer
  EXPECT_NE(call_error(s, b), ErrorCode::internal_error);
  b = good;
  put_u32(b, 16, kN + 1);
  EXPECT_EQ(call_error(s, b), ErrorCode::shape_mismatch);
  b = good;
  put_u64(b, 20, m.p + 1);
  EXPECT_EQ(call_error(s, b), ErrorCode::parameter_mismatch);
  b = good;
  b[28] ^= 1;  // material made for other weights
  EXPECT_EQ(call_error(s, b), ErrorCode::stale_material);
  b = good;
  b[4] = 9;
  EXPECT_EQ(call_error(s, b), ErrorCode::bad_version);
  b = good;
  b[6] = 1;
  EXPECT_EQ(call_error(s, b), ErrorCode::bad_message);
  b = good;
  b[0] = 'X';
  EXPECT_EQ(call_error(s, b), ErrorCode::bad_magic);
  EXPECT_EQ(call_error(s, good, 99), ErrorCode::unknown_layer);
  // A value >= p: the first one set to p - 1 + 2^w-wide garbage.
  const int width = he::bit_width_for_modulus(m.p);
  online::OnlineRows big = m;
  big.values[0] = 0;
  b = online::encode_online_rows(big);
  const std::uint64_t too_big = (std::uint64_t{1} << width) - 1;  // >= p: p is not a power of two
  ASSERT_GE(too_big, m.p);
  for (int bit = 0; bit < width; ++bit)
    if ((too_big >> bit) & 1) b[60 + bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8));
  EXPECT_EQ(call_error(s, b), ErrorCode::coefficient_out_of_range);
  // Non-zero padding bits after the last value.
  b = good;
  const std::size_t bits = std::size_t{2} * kK * width;
  ASSERT_NE(bits % 8, 0u);
  b.back() |= 0x80;
  EXPECT_EQ(call_error(s, b), ErrorCode::bad_message);
  // And the service still answers the valid message.
  EXPECT_EQ(call_error(s, good), ErrorCode::internal_error);
}

TEST(OnlineWire, ResultsAndInfoAreChecked) {
  const std::uint64_t p = he::linear_online_modulus(kK).p;
  const std::vector<std::uint32_t> v(2 * kN, 5);
  const Bytes r = online::encode_online_result(2, kN, p, v);
  EXPECT_EQ(online::decode_online_result(r, 2, kN, p), v);
  EXPECT_THROW((void)online::decode_online_result(r, 3, kN, p), Error);
  EXPECT_THROW((void)online::decode_online_result(r, 2, kN + 1, p), Error);
  EXPECT_THROW((void)online::decode_online_result(r, 2, kN, p + 2), Error);
  Bytes cut = r;
  cut.pop_back();
  EXPECT_THROW((void)online::decode_online_result(cut, 2, kN, p), Error);
  const std::vector<std::uint32_t> over(2 * kN, static_cast<std::uint32_t>(p));
  EXPECT_THROW((void)online::encode_online_result(2, kN, p, over), Error);

  online::OnlineLayerInfo l{kWire, kN, kK, p, {}};
  const Bytes info = online::encode_online_info({l});
  EXPECT_EQ(online::decode_online_info(info).at(0).p, p);
  Bytes wrong_p = info;
  wrong_p[24] ^= 2;  // p of the first layer
  try {
    (void)online::decode_online_info(wrong_p);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::parameter_mismatch);
  }
  Bytes many = info;
  put_u32(many, 8, 1000000);
  EXPECT_THROW((void)online::decode_online_info(many), Error);
  Bytes query = online::encode_online_query();
  query.push_back(0);
  EXPECT_THROW(online::decode_online_query(query), Error);
  EXPECT_EQ(online::payload_kind(online::encode_online_query()), online::PayloadKind::online_query);
}

TEST(OnlineWire, ATiedHeadAndItsTableShareOneCopy) {
  // A tied LM head (V x width, row-major) and its token table (E: V rows of
  // width) are the same bytes: held once. A layer that differs in one value
  // keeps its own copy; every layer answers from the values it was given.
  constexpr std::uint32_t kHeadWire = 7, kOtherWire = 8;
  std::vector<std::int8_t> other = table_values();
  other[5] = static_cast<std::int8_t>(other[5] == 1 ? 2 : 1);
  std::vector<OnlineService::Layer> layers;
  layers.push_back({kHeadWire, kVocab, kWidth, table_values(), false});
  layers.push_back({kTableWire, kWidth, kVocab, table_values(), true});
  layers.push_back({kOtherWire, kVocab, kWidth, other, false});
  const OnlineService s(std::move(layers));
  EXPECT_EQ(s.weight_bytes(), 2u * kVocab * kWidth);
  const auto info = online::decode_online_info(s.info(online::encode_online_query()));
  ASSERT_EQ(info.size(), 3u);
  const auto e = table_values();
  std::mt19937 rng(6);
  for (std::uint32_t wire : {kHeadWire, kOtherWire}) {
    const auto& li = *std::find_if(info.begin(), info.end(), [&](const auto& x) { return x.wire_id == wire; });
    online::OnlineRows m{1, kWidth, kVocab, li.p, li.digest, {}, {}};
    m.values.resize(kWidth);
    for (auto& v : m.values) v = static_cast<std::uint32_t>(rng() % li.p);
    const auto y = online::decode_online_result(s.call(wire, online::encode_online_rows(m), 2), 1, kVocab, li.p);
    const auto& w = wire == kHeadWire ? e : other;
    for (std::uint32_t o = 0; o < kVocab; ++o) {
      __int128 sum = 0;
      for (std::uint32_t i = 0; i < kWidth; ++i) sum += static_cast<__int128>(m.values[i]) * w[o * kWidth + i];
      const auto p = static_cast<__int128>(li.p);
      ASSERT_EQ(y[o], static_cast<std::uint32_t>(((sum % p) + p) % p)) << "wire " << wire << " output " << o;
    }
  }
  const auto& ti = *std::find_if(info.begin(), info.end(), [&](const auto& x) { return x.wire_id == kTableWire; });
  online::OnlineRows m{1, kVocab, kWidth, he::kOnlineTableModulus, ti.digest, {}, {}};
  m.bytes.resize(kVocab);
  for (auto& v : m.bytes) v = static_cast<std::uint8_t>(rng() % 256);
  const auto y = online::decode_online_result(s.call(kTableWire, online::encode_online_rows(m), 2), 1, kWidth, 256);
  for (std::uint32_t d = 0; d < kWidth; ++d) {
    std::int64_t sum = 0;
    for (std::uint32_t j = 0; j < kVocab; ++j) sum += std::int64_t{m.bytes[j]} * e[j * kWidth + d];
    EXPECT_EQ(y[d], static_cast<std::uint32_t>(((sum % 256) + 256) % 256));
  }
}

TEST(OnlineWire, TheServiceRefusesAsymmetricWeights) {
  std::vector<std::int8_t> w(12, 5);
  w[7] = -128;  // outside the symmetric range the online modulus is sized for
  std::vector<OnlineService::Layer> layers;
  layers.push_back({kWire, 3, 4, w});
  try {
    OnlineService s(std::move(layers));
    ADD_FAILURE() << "a weight of -128 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_artifact);
  }
}

TEST(OnlineWire, DigestsDependOnEveryWeightAndTheShape) {
  std::vector<std::int8_t> w(12, 3);
  const auto d = online::weights_digest(4, 3, 4, w);
  EXPECT_EQ(d, online::weights_digest(4, 3, 4, w));
  EXPECT_NE(d, online::weights_digest(12, 3, 4, w));
  EXPECT_NE(d, online::weights_digest(4, 4, 3, w));
  w[11] = 4;
  EXPECT_NE(d, online::weights_digest(4, 3, 4, w));
}

}  // namespace
}  // namespace fhellm::hybrid
