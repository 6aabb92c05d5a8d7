// The online material and its store (docs/online.md section 6): rows round
// trip encrypted at rest, a row is used once, a batch copied back after it
// was taken is refused, any changed or missing byte and another client key
// are detected; the CRT join and the mask expansion.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "fhellm/error.h"
#include "he/linear_layout.h"
#include "hybrid/online_store.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "fhellm-online-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

ClientSecret secret(std::uint8_t fill) {
  SecretKey32 k{};
  k.fill(fill);
  return ClientSecret(k);
}

MaterialBatch batch(std::uint32_t rows, std::uint32_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  MaterialBatch b;
  b.wire_id = 12;
  b.n = n;
  b.k = 64;
  b.p = he::linear_online_modulus(64).p;
  for (auto& d : b.digest) d = static_cast<std::uint8_t>(rng());
  for (std::uint32_t i = 0; i < rows; ++i) {
    he::Seed s{};
    for (auto& x : s) x = static_cast<std::uint8_t>(rng());
    std::vector<std::uint32_t> product(n);
    for (auto& v : product) v = static_cast<std::uint32_t>(rng() % b.p);
    b.rows.emplace_back(s, std::move(product));
  }
  return b;
}

fs::path only_file(const fs::path& dir, const std::string& ext) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ext) return e.path();
  return {};
}

ErrorCode take_error(OnlineStore& store, const online::WeightsDigest& d) {
  try {
    (void)store.take(d);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // nothing thrown
}

TEST(OnlineStore, RowsRoundTripAndLeaveTheStore) {
  TempDir dir;
  OnlineStore store(dir.path, secret(1));
  const MaterialBatch b = batch(3, 50, 1);
  store.put(b);
  EXPECT_EQ(store.rows_available(b.digest), 3u);
  auto got = store.take(b.digest);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->wire_id, b.wire_id);
  EXPECT_EQ(got->p, b.p);
  ASSERT_EQ(got->rows.size(), 3u);
  MaterialBatch copy = batch(3, 50, 1);  // the same draws
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got->rows[i].seed_for_storage(), copy.rows[i].seed_for_storage());
    EXPECT_TRUE(std::equal(got->rows[i].product().begin(), got->rows[i].product().end(),
                           copy.rows[i].product().begin()));
  }
  EXPECT_EQ(store.rows_available(b.digest), 0u);
  EXPECT_FALSE(store.take(b.digest).has_value());
  EXPECT_TRUE(only_file(dir.path, ".fhom").empty());
}

TEST(OnlineStore, NoSeedOrProductInClearOnDisk) {
  TempDir dir;
  OnlineStore store(dir.path, secret(7));
  const MaterialBatch b = batch(1, 64, 7);
  store.put(b);
  const he::Seed& seed = b.rows[0].seed_for_storage();
  const auto* product = reinterpret_cast<const char*>(b.rows[0].product().data());
  for (const auto& e : fs::recursive_directory_iterator(dir.path)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(std::string(reinterpret_cast<const char*>(seed.data()), 16)), std::string::npos);
    EXPECT_EQ(bytes.find(std::string(product, 16)), std::string::npos);
  }
}

TEST(OnlineStore, ABatchCopiedBackIsRefused) {
  TempDir dir;
  OnlineStore store(dir.path, secret(2));
  const MaterialBatch b = batch(2, 10, 2);
  store.put(b);
  const fs::path file = only_file(dir.path, ".fhom");
  const fs::path saved = dir.path / "saved";
  fs::copy_file(file, saved);
  ASSERT_TRUE(store.take(b.digest).has_value());
  fs::copy_file(saved, file);  // a backup restored, a copy put back
  EXPECT_EQ(take_error(store, b.digest), ErrorCode::mask_reused);
  // And by another store object over the same directory (another process).
  fs::copy_file(saved, file, fs::copy_options::overwrite_existing);
  OnlineStore other(dir.path, secret(2));
  EXPECT_EQ(take_error(other, b.digest), ErrorCode::mask_reused);
}

TEST(OnlineStore, SeveralGroupsAtOnceAllOrNothing) {
  TempDir dir;
  OnlineStore store(dir.path, secret(8));
  const MaterialBatch a = batch(2, 10, 10), b = batch(3, 12, 11);
  store.put(a);
  store.put(b);
  const online::WeightsDigest none{};  // nothing stored under it
  const online::WeightsDigest digests[] = {a.digest, none, b.digest};
  auto got = store.take(digests);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0] && got[2]);
  EXPECT_FALSE(got[1]);
  EXPECT_EQ(got[0]->rows.size(), 2u);
  EXPECT_EQ(got[2]->rows.size(), 3u);
  // A copy of a taken batch next to a fresh one: the whole take is refused
  // and the fresh batch stays in the store.
  store.put(a);
  const fs::path fresh = only_file(dir.path, ".fhom");
  const fs::path saved = dir.path / "saved";
  fs::copy_file(fresh, saved);
  ASSERT_TRUE(store.take(a.digest).has_value());
  fs::copy_file(saved, fresh);  // the taken batch put back
  store.put(b);
  const online::WeightsDigest both[] = {b.digest, a.digest};
  try {
    (void)store.take(both);
    ADD_FAILURE() << "a batch taken before was handed out again";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::mask_reused);
  }
  EXPECT_EQ(store.rows_available(b.digest), 3u);
  EXPECT_TRUE(store.take(b.digest).has_value());
  EXPECT_FALSE(only_file(dir.path, ".reused").empty());
}

TEST(OnlineStore, TamperedTruncatedOrForeignMaterialIsDetected) {
  TempDir dir;
  OnlineStore store(dir.path, secret(3));
  const MaterialBatch b = batch(2, 40, 3);
  for (std::size_t offset : {std::size_t{24}, kBatchHeaderBytes + 5, kBatchHeaderBytes + 100}) {
    store.put(b);
    const fs::path file = only_file(dir.path, ".fhom");
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    f.close();
    EXPECT_EQ(take_error(store, b.digest), ErrorCode::material_corrupt) << "byte " << offset;
    EXPECT_FALSE(only_file(dir.path, ".corrupt").empty());
    fs::remove(only_file(dir.path, ".corrupt"));
  }
  store.put(b);
  fs::resize_file(only_file(dir.path, ".fhom"), fs::file_size(only_file(dir.path, ".fhom")) - 1);
  EXPECT_EQ(take_error(store, b.digest), ErrorCode::material_corrupt);
  fs::remove(only_file(dir.path, ".corrupt"));
  store.put(b);
  OnlineStore foreign(dir.path, secret(4));
  EXPECT_EQ(take_error(foreign, b.digest), ErrorCode::material_corrupt);
}

TEST(OnlineStore, ARowIsUsedOnce) {
  MaterialBatch b = batch(2, 5, 5);
  MaskRow& row = b.rows[0];
  EXPECT_FALSE(row.used());
  (void)row.use();
  EXPECT_TRUE(row.used());
  try {
    (void)row.use();
    ADD_FAILURE() << "a mask was handed out twice";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::mask_reused);
  }
  EXPECT_THROW((void)row.seed_for_storage(), Error);
  MaskRow moved = std::move(b.rows[1]);
  EXPECT_THROW((void)b.rows[1].use(), Error);  // the moved-from row holds nothing usable
  EXPECT_NO_THROW((void)moved.use());
  // A used row cannot go back into a store.
  TempDir dir;
  OnlineStore store(dir.path, secret(6));
  try {
    store.put(b);
    ADD_FAILURE() << "used rows were stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::mask_reused);
  }
}

TEST(OnlineMaterial, CrtJoinAndMaskExpansion) {
  for (std::uint32_t k : {64u, 768u, 3072u, 8192u}) {
    const he::OnlineModulus m = he::linear_online_modulus(k);
    const CrtJoin join(m.pow2, m.odd);
    std::mt19937_64 rng(k);
    for (int i = 0; i < 1000; ++i) {
      const std::uint64_t z = rng() % m.p;
      EXPECT_EQ(join(z % m.pow2, z % m.odd), z);
    }
    EXPECT_EQ(join(m.pow2 - 1, m.odd - 1), m.p - 1);
  }
  EXPECT_THROW(CrtJoin(6, 7), Error);
  EXPECT_THROW(CrtJoin(8, 6), Error);
  he::Seed s{};
  s[0] = 9;
  const auto a = expand_mask(s, 1000, 50143232), b = expand_mask(s, 1000, 50143232);
  EXPECT_EQ(a, b);
  std::uint32_t top = 0;
  for (std::uint32_t v : a) top = std::max(top, v);
  EXPECT_LT(top, 50143232u);
  EXPECT_GT(top, 50143232u / 2);  // spread over the range
  s[0] = 10;
  EXPECT_NE(expand_mask(s, 1000, 50143232), a);
}

TEST(ClientSecret, CreatedOnceReadBackAndChecked) {
  TempDir dir;
  const fs::path path = dir.path / "sub" / "client.key";
  const ClientSecret a = ClientSecret::load_or_create(path);
  EXPECT_EQ(fs::file_size(path), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const ClientSecret b = ClientSecret::load_or_create(path);
  EXPECT_EQ(a.derive("x"), b.derive("x"));
  EXPECT_NE(a.derive("x"), a.derive("y"));
  fs::resize_file(path, 31);
  try {
    (void)ClientSecret::load_or_create(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::wrong_key);
  }
}

}  // namespace
}  // namespace fhellm::hybrid
