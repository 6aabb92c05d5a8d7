#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "fhellm/error.h"

namespace fhellm {
namespace {

TEST(Error, CarriesCodeKindAndNamedMessage) {
  try {
    require(false, ErrorCode::truncated, "ciphertext: 12 bytes left, 40 needed");
    FAIL() << "require(false) did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::truncated);
    EXPECT_EQ(e.kind(), ErrorKind::format);
    EXPECT_STREQ(e.what(), "truncated: ciphertext: 12 bytes left, 40 needed");
  }
}

TEST(Error, KindsMapToDistinctExitCodes) {
  EXPECT_EQ(error_kind_of(ErrorCode::replayed_message), ErrorKind::security);
  EXPECT_EQ(error_kind_of(ErrorCode::message_too_large), ErrorKind::protocol);
  EXPECT_EQ(error_kind_of(ErrorCode::file_not_found), ErrorKind::io);
  EXPECT_NE(exit_code_for(ErrorKind::format), exit_code_for(ErrorKind::protocol));
  EXPECT_EQ(error_code_name(ErrorCode::coefficient_out_of_range), "coefficient_out_of_range");
}

TEST(Error, TrustCodesHaveStableNumbersKindsAndExitCodes) {
  // Numbers are part of the wire protocol: they never change.
  EXPECT_EQ(static_cast<int>(ErrorCode::rate_limited), 707);
  EXPECT_EQ(static_cast<int>(ErrorCode::unauthorized), 708);
  EXPECT_EQ(static_cast<int>(ErrorCode::server_busy), 709);
  EXPECT_EQ(static_cast<int>(ErrorCode::interrupted), 801);
  EXPECT_EQ(error_code_name(ErrorCode::unauthorized), "unauthorized");
  EXPECT_EQ(error_code_name(ErrorCode::server_busy), "server_busy");
  EXPECT_EQ(error_kind_of(ErrorCode::unauthorized), ErrorKind::security);
  EXPECT_EQ(error_kind_of(ErrorCode::rate_limited), ErrorKind::protocol);
  EXPECT_EQ(error_kind_of(ErrorCode::server_busy), ErrorKind::protocol);
  EXPECT_EQ(exit_code_for(error_kind_of(ErrorCode::unauthorized)), 5);
  EXPECT_EQ(exit_code_for(error_kind_of(ErrorCode::interrupted)), 130);
}

// The online mode's codes (docs/online.md) beside the trust codes: distinct
// numbers, names and kinds (a server's online_not_served and stale_material
// are protocol refusals; the client's store's codes are security).
TEST(Error, OnlineCodesHaveStableNumbersKindsAndNames) {
  EXPECT_EQ(static_cast<int>(ErrorCode::online_not_served), 603);
  EXPECT_EQ(static_cast<int>(ErrorCode::mask_reused), 604);
  EXPECT_EQ(static_cast<int>(ErrorCode::material_corrupt), 605);
  EXPECT_EQ(static_cast<int>(ErrorCode::stale_material), 606);
  EXPECT_EQ(error_code_name(ErrorCode::online_not_served), "online_not_served");
  EXPECT_EQ(error_code_name(ErrorCode::mask_reused), "mask_reused");
  EXPECT_EQ(error_code_name(ErrorCode::material_corrupt), "material_corrupt");
  EXPECT_EQ(error_code_name(ErrorCode::stale_material), "stale_material");
  EXPECT_EQ(error_kind_of(ErrorCode::online_not_served), ErrorKind::protocol);
  EXPECT_EQ(error_kind_of(ErrorCode::stale_material), ErrorKind::protocol);
  EXPECT_EQ(error_kind_of(ErrorCode::mask_reused), ErrorKind::security);
  EXPECT_EQ(error_kind_of(ErrorCode::material_corrupt), ErrorKind::security);
  // Every code below 1000 has one name: no two codes share a number or a name.
  std::set<std::string_view> names;
  int named = 0;
  for (int c = 0; c < 1000; ++c) {
    const std::string_view name = error_code_name(static_cast<ErrorCode>(c));
    if (name == "unknown_error") continue;
    ++named;
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
  }
  EXPECT_GE(named, 52);
}

TEST(Error, RequireTrueDoesNotThrow) {
  EXPECT_NO_THROW(require(true, ErrorCode::internal_error, "never"));
}

}  // namespace
}  // namespace fhellm
