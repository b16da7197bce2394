#include "common/result.h"

#include <gtest/gtest.h>

namespace opfleet {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(Error::invalid("not positive"));
  return v;
}

Result<int> doubled(int v) {
  OPFLEET_TRY(int p, parse_positive(v));
  return p * 2;
}

TEST(Result, TryPropagatesValueAndError) {
  EXPECT_EQ(doubled(4).value(), 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  EXPECT_FALSE(bad.error().retryable);
}

TEST(Result, DescribeNamesKindCodeAndStatus) {
  Error e = Error::make(ErrorKind::kThrottled, "slow down", true);
  e.code = "ThrottlingException";
  e.http_status = 400;
  EXPECT_EQ(e.describe(), "throttled: slow down [ThrottlingException, HTTP 400]");
  EXPECT_EQ(Error::network("refused").describe(), "network: refused");
  EXPECT_TRUE(Error::network("refused").retryable);
}

}  // namespace
}  // namespace opfleet
