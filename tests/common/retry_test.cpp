#include "common/retry.h"

#include <gtest/gtest.h>

namespace opfleet {
namespace {

TEST(Backoff, CeilingsDoubleUpToTheCap) {
  Backoff b(BackoffPolicy{Millis(1000), Millis(16000), 0}, 42);
  const std::int64_t want[] = {1000, 2000, 4000, 8000, 16000, 16000, 16000};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(b.ceiling(i).count(), want[i]) << i;
}

TEST(Backoff, DelaysAreFullJitterWithinTheCeiling) {
  Backoff b(BackoffPolicy{Millis(100), Millis(800), 0}, 7);
  std::int64_t max_seen = 0;
  std::int64_t min_seen = 1 << 30;
  for (int i = 0; i < 2000; ++i) {
    auto d = b.delay(3).count();
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 800);
    max_seen = std::max(max_seen, d);
    min_seen = std::min(min_seen, d);
  }
  // Full jitter spreads over the whole range, not just near the ceiling.
  EXPECT_GT(max_seen, 700);
  EXPECT_LT(min_seen, 100);
}

struct FakeClock {
  SteadyClock::time_point now{};
  CircuitBreaker::Clock fn() {
    return [this] { return now; };
  }
};

TEST(CircuitBreaker, OpensAfterThresholdAndHalfOpensAfterTimeout) {
  FakeClock clock;
  CircuitBreaker cb("sqs", BreakerPolicy{5, Millis(5000)}, clock.fn());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(cb.allow());
    cb.record_failure();
    EXPECT_EQ(cb.state(), BreakerState::kClosed);
  }
  ASSERT_TRUE(cb.allow());
  cb.record_failure();
  EXPECT_EQ(cb.state(), BreakerState::kOpen);
  EXPECT_FALSE(cb.allow());
  EXPECT_EQ(cb.remaining_open().count(), 5000);

  clock.now += Millis(4999);
  EXPECT_FALSE(cb.allow());
  clock.now += Millis(1);
  EXPECT_TRUE(cb.allow());  // the trial call
  EXPECT_EQ(cb.state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(cb.allow());  // only one trial at a time
  cb.record_failure();       // trial failed: open again for a full period
  EXPECT_EQ(cb.state(), BreakerState::kOpen);
  EXPECT_FALSE(cb.allow());

  clock.now += Millis(5000);
  EXPECT_TRUE(cb.allow());
  cb.record_success();
  EXPECT_EQ(cb.state(), BreakerState::kClosed);
  EXPECT_EQ(cb.consecutive_failures(), 0);
}

TEST(CircuitBreaker, SuccessResetsTheFailureCount) {
  FakeClock clock;
  CircuitBreaker cb("pg", BreakerPolicy{3, Millis(1000)}, clock.fn());
  cb.record_failure();
  cb.record_failure();
  cb.record_success();
  cb.record_failure();
  cb.record_failure();
  EXPECT_EQ(cb.state(), BreakerState::kClosed);
  cb.record_failure();
  EXPECT_EQ(cb.state(), BreakerState::kOpen);
}

}  // namespace
}  // namespace opfleet
