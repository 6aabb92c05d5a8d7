// The encrypted embedding lookup end to end (he/lookup.h): rows of tables
// from 512 to 128256 rows come back exactly (first, last and random ids),
// prompts of 1 and 512 ids, plans and their models, and hostile uploads
// rejected with their codes. The building blocks (query expansion,
// selection keys) have their own tests in query_expansion_test.cpp.
#include <gtest/gtest.h>

#include <random>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/lookup.h"

namespace fhellm::he {
namespace {

struct Fixture {
  LinearClient client{std::vector<ParamId>{ParamId::n2048_q54}};
  LinearServerKeys keys = client.server_keys();
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<std::int8_t> random_table(std::uint32_t rows, std::uint32_t width, int value_bits, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int max = (1 << (value_bits - 1)) - 1;
  std::uniform_int_distribution<int> d(-max, max);
  std::vector<std::int8_t> t(std::size_t{rows} * width);
  for (auto& v : t) v = static_cast<std::int8_t>(d(rng));
  return t;
}

// Looks `ids` up in `table` (rows x width) and checks every value exactly.
void check_lookup(const EncodedTable& table, const std::vector<std::int8_t>& values, const std::vector<std::uint32_t>& ids,
                  std::size_t threads = 2) {
  const LookupShape shape{static_cast<std::uint32_t>(ids.size()), table.rows(), table.width()};
  const auto upload = fixture().client.encrypt_lookup(ids, shape, table.value_bits());
  const LookupPlan plan = plan_lookup(shape, table.value_bits());
  EXPECT_EQ(upload.size(), plan.bytes_up());
  const auto reply = lookup_evaluate(upload, table, fixture().keys, threads);
  EXPECT_EQ(reply.size(), plan.bytes_down());
  const auto rows = fixture().client.decrypt_lookup(reply);
  ASSERT_EQ(rows.size(), ids.size() * table.width());
  int shown = 0;
  for (std::size_t r = 0; r < ids.size(); ++r)
    for (std::size_t j = 0; j < table.width(); ++j) {
      const std::int64_t want = values[std::size_t{ids[r]} * table.width() + j];
      if (rows[r * table.width() + j] != want && shown++ < 5)
        ADD_FAILURE() << "id " << ids[r] << " value " << j << ": got " << rows[r * table.width() + j] << " want "
                      << want << " (" << describe(plan) << ")";
    }
}

std::vector<std::uint32_t> first_last_random(std::uint32_t rows, std::size_t random, std::uint64_t seed) {
  std::vector<std::uint32_t> ids{0, rows - 1};
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < random; ++i) ids.push_back(static_cast<std::uint32_t>(rng() % rows));
  return ids;
}

TEST(Lookup, OneChunkTables) {
  for (std::uint32_t rows : {512u, 1024u, 2048u}) {
    const auto values = random_table(rows, 64, 8, rows);
    const EncodedTable table(values, rows, 64, 8, 2);
    check_lookup(table, values, first_last_random(rows, 4, rows));
  }
}

TEST(Lookup, SelectedChunks) {
  // 2049 rows: a second chunk of one row; 5000: three chunks (an unpaired last one).
  for (std::uint32_t rows : {2049u, 5000u}) {
    const auto values = random_table(rows, 16, 8, rows);
    const EncodedTable table(values, rows, 16, 8, 2);
    check_lookup(table, values, first_last_random(rows, 4, rows));
  }
}

}  // namespace
}  // namespace fhellm::he

namespace fhellm::he {
namespace {

// The traffic targets of the embedding on the server (issue 15) hold by the
// plan's byte models (which the end-to-end tests check against real messages).
TEST(LookupPlan, RealShapesMeetTheTrafficTargets) {
  const LookupPlan gpt2 = plan_lookup({1, 50257, 768});
  const LookupPlan llama = plan_lookup({1, 128256, 2048});
  std::printf("[lookup] %s\n[lookup] %s\n", describe(gpt2).c_str(), describe(llama).c_str());
  EXPECT_LE(gpt2.bytes_up(), 40000u);
  EXPECT_LE(gpt2.bytes_down(), 8000u);
  EXPECT_LE(llama.bytes_up(), 80000u);
  EXPECT_EQ(gpt2.select_bits, 5);
  EXPECT_EQ(llama.select_bits, 6);
  for (const LookupPlan* p : {&gpt2, &llama}) EXPECT_LE(p->noise.bound(), p->noise.allowed);
}

TEST(LookupPlan, LargestShapesHoldTheirBound) {
  for (std::uint32_t width : {1u, 768u, 8192u})
    for (std::uint32_t rows : {1u, 2048u, 2049u, 262144u}) {
      const LookupPlan p = plan_lookup({512, rows, width});
      EXPECT_LE(p.noise.bound(), p.noise.allowed) << describe(p);
    }
}

}  // namespace
}  // namespace fhellm::he

namespace fhellm::he {
namespace {

TEST(Lookup, VocabulariesUpTo128256) {
  // Narrow rows keep the big tables fast: the chunk selection (63 chunks, 6
  // bits) is what grows with the vocabulary.
  for (std::uint32_t rows : {32000u, 50257u, 128256u}) {
    const auto values = random_table(rows, 4, 8, rows);
    const EncodedTable table(values, rows, 4, 8, 2);
    check_lookup(table, values, first_last_random(rows, 6, rows));
  }
}

TEST(Lookup, PackedBeforeSelecting) {
  // Rows 2048 wide: an id's 16 entries fill its packed ct, so the server
  // packs each chunk first and selects among packed cts (as for
  // Llama-3.2-1B's table); 20 ids cross a block of ids.
  const LookupPlan plan = plan_lookup({1, 5000, 2048});
  ASSERT_TRUE(plan.packs_first()) << describe(plan);
  EXPECT_TRUE(plan_lookup({1, 128256, 2048}).packs_first());
  EXPECT_FALSE(plan_lookup({1, 50257, 768}).packs_first());  // GPT-2: ids share packed cts
  const auto values = random_table(5000, 2048, 8, 9);
  const EncodedTable table(values, 5000, 2048, 8, 2);
  check_lookup(table, values, first_last_random(5000, 2, 9));
  check_lookup(table, values, first_last_random(5000, 18, 10), 1);
}

TEST(Lookup, PromptsOfOneAnd512Ids) {
  const auto values = random_table(512, 64, 8, 3);
  const EncodedTable table(values, 512, 64, 8, 2);
  check_lookup(table, values, {17});
  std::vector<std::uint32_t> ids(512);
  for (std::uint32_t i = 0; i < 512; ++i) ids[i] = (i * 7919u + 3u) % 512u;
  check_lookup(table, values, ids);
  // And over selected chunks (every id carries its own select record).
  const auto wide = random_table(5000, 8, 8, 4);
  const EncodedTable chunked(wide, 5000, 8, 8, 2);
  std::vector<std::uint32_t> many(512);
  for (std::uint32_t i = 0; i < 512; ++i) many[i] = (i * 104729u + 11u) % 5000u;
  check_lookup(chunked, wide, many);
}

TEST(Lookup, NarrowValuesAndExtremes) {
  // 4-bit tables, and every value at +-127.
  const auto small = random_table(3000, 12, 4, 5);
  check_lookup(EncodedTable(small, 3000, 12, 4, 1), small, first_last_random(3000, 3, 5), 1);
  std::vector<std::int8_t> extreme(std::size_t{4100} * 10);
  for (std::size_t i = 0; i < extreme.size(); ++i) extreme[i] = (i % 3 == 0) ? 127 : -127;
  check_lookup(EncodedTable(extreme, 4100, 10, 8, 1), extreme, {0, 2048, 4099, 4097}, 1);
}

// Hostile uploads and replies get their codes; nothing crashes.
struct Hostile {
  std::vector<std::int8_t> values = random_table(5000, 8, 8, 9);
  EncodedTable table{values, 5000, 8, 8, 1};
  LookupShape shape{2, 5000, 8};
  std::vector<std::uint8_t> upload = fixture().client.encrypt_lookup(std::vector<std::uint32_t>{1, 4999}, shape);
};

ErrorCode code_of(const std::vector<std::uint8_t>& upload, const EncodedTable& table,
                  const LinearServerKeys& keys = fixture().keys) {
  try {
    (void)lookup_evaluate(upload, table, keys, 1);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // stands for "no error" here
}

TEST(LookupHostile, HeaderFields) {
  Hostile h;
  EXPECT_EQ(code_of(h.upload, h.table), ErrorCode::internal_error);
  auto bad = h.upload;
  bad[0] = 'X';
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_magic);
  bad = h.upload;
  bad[4] = 99;
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_version);
  bad = h.upload;
  bad[7] = 1;  // reserved
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_message);
  bad = h.upload;
  bad[6] = 9;  // value bits
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_message);
  bad = h.upload;
  bad[29] ^= 1;  // upload width
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::parameter_mismatch);
  bad = h.upload;
  bad[28] ^= 1;  // split point
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::parameter_mismatch);
  ASSERT_GT(plan_lookup(h.shape).select_sparse_levels, 0);  // this table's select record is sparse
  bad = h.upload;
  bad[32] ^= 1;  // sparse select levels: another set of positions
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::parameter_mismatch);
  bad = h.upload;
  bad[33] = 1;  // reserved
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_message);
  bad = h.upload;
  bad[16] = 0xff;  // table rows 5119: not this table
  bad[17] = 0x13;
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::shape_mismatch);
  bad = h.upload;
  bad[19] = 0x40;  // table rows past the limit
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::shape_mismatch);
  bad = h.upload;
  bad[12] = 3;  // three ids, payload of two: wrong size
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::shape_mismatch);
}

TEST(LookupHostile, Lengths) {
  Hostile h;
  auto cut = h.upload;
  cut.resize(cut.size() - 5);
  EXPECT_EQ(code_of(cut, h.table), ErrorCode::truncated);
  cut.resize(20);
  EXPECT_EQ(code_of(cut, h.table), ErrorCode::truncated);
  auto longer = h.upload;
  longer.push_back(0);
  EXPECT_EQ(code_of(longer, h.table), ErrorCode::trailing_bytes);
  auto huge = h.upload;
  huge[47] = 0x7f;  // payload size past the limit
  EXPECT_EQ(code_of(huge, h.table), ErrorCode::length_too_large);
}

TEST(LookupHostile, CoefficientsAndKeys) {
  Hostile h;
  const LookupPlan plan = plan_lookup(h.shape);
  // The first select value (c0 mod Q, bits(Q) bits) set to 2^54 - 1 >= Q.
  const std::size_t at = 48 + 32 + (std::size_t{plan.linear.geo.shape.in} * plan.linear.upload_bits + 7) / 8 + 32;
  auto bad = h.upload;
  for (std::size_t i = 0; i < 6; ++i) bad[at + i] = 0xff;
  bad[at + 6] |= 0x3f;
  EXPECT_EQ(code_of(bad, h.table), ErrorCode::coefficient_out_of_range);
  // Non-zero padding at the end of a one-hot record (5000 > 2048: full chunks of N values).
  const std::size_t one_hot_end = 48 + 32 + (std::size_t{plan.linear.geo.shape.in} * plan.linear.upload_bits + 7) / 8;
  if ((std::size_t{plan.linear.geo.shape.in} * plan.linear.upload_bits) % 8 != 0) {
    bad = h.upload;
    bad[one_hot_end - 1] |= 0x80;
    EXPECT_EQ(code_of(bad, h.table), ErrorCode::bad_message);
  }
  // A session without the square key cannot select chunks.
  LinearClient other{std::vector<ParamId>{ParamId::n2048_q54}};
  LinearSessionKeys k = other.server_keys().get(ParamId::n2048_q54);
  k.square.reset();
  LinearServerKeys without;
  without.insert(std::move(k));
  EXPECT_EQ(code_of(h.upload, h.table, without), ErrorCode::missing_galois_key);
  // Another client's keys: the reply decrypts to garbage, never to the rows
  // (and the real client refuses a corrupted reply).
  auto reply = lookup_evaluate(h.upload, h.table, fixture().keys, 1);
  reply[1] = 'X';
  EXPECT_THROW(fixture().client.decrypt_lookup(reply), Error);
  EXPECT_THROW(fixture().client.encrypt_lookup(std::vector<std::uint32_t>{5000, 0}, h.shape), Error);
  EXPECT_THROW(fixture().client.encrypt_lookup(std::vector<std::uint32_t>{1}, h.shape), Error);
}

TEST(LookupHostile, TableOutOfRange) {
  std::vector<std::int8_t> v(100, 8);
  EXPECT_THROW(EncodedTable(v, 10, 10, 4, 1), Error);  // 8 > 2^3 - 1
  EXPECT_THROW(EncodedTable(v, 10, 11, 8, 1), Error);  // size mismatch
  EXPECT_THROW(plan_lookup({1, kLookupMaxTableRows + 1, 8}), Error);
}

}  // namespace
}  // namespace fhellm::he

namespace fhellm::he {
namespace {

// What a client uploads (server_key_bytes: one set at a time, masks dropped)
// is the bundle server_keys().save() writes, and serves the lookup.
TEST(LookupKeys, ClientKeyBytesServe) {
  const LinearClient client{std::vector<ParamId>{ParamId::n2048_q54}};
  const auto bytes = client.server_key_bytes();
  EXPECT_EQ(bytes.size(), client.server_keys().save().size());
  const LinearServerKeys keys = LinearServerKeys::load(bytes);
  const auto values = random_table(3000, 8, 8, 21);
  const EncodedTable table(values, 3000, 8, 8, 1);
  const std::vector<std::uint32_t> ids{2999, 5};
  const auto rows = client.decrypt_lookup(lookup_evaluate(client.encrypt_lookup(ids, {2, 3000, 8}), table, keys, 1));
  for (std::size_t j = 0; j < 8; ++j) EXPECT_EQ(rows[j], values[2999 * 8 + j]);
}

}  // namespace
}  // namespace fhellm::he
