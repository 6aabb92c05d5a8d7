#include <gtest/gtest.h>

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

TEST(Error, RequireTrueDoesNotThrow) {
  EXPECT_NO_THROW(require(true, ErrorCode::internal_error, "never"));
}

}  // namespace
}  // namespace fhellm
