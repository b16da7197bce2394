#include "worker/cancel.h"

#include <thread>

#include <gtest/gtest.h>

namespace opfleet::worker {
namespace {

using namespace std::chrono_literals;
using Clock = CancelToken::Clock;

TEST(CancelToken, WaitRunsToTheEndWhenNothingHappens) {
  CancelToken t(Clock::now() + 10s);
  auto start = Clock::now();
  EXPECT_EQ(t.wait_until(start + 20ms), StopReason::kNone);
  EXPECT_GE(Clock::now() - start, 20ms);
}

TEST(CancelToken, CancelWakesTheWaiter) {
  CancelToken t(Clock::now() + 60s);
  std::thread canceller([&] {
    std::this_thread::sleep_for(10ms);
    t.cancel();
  });
  auto start = Clock::now();
  EXPECT_EQ(t.wait_until(start + 60s), StopReason::kCancelled);
  EXPECT_LT(Clock::now() - start, 5s);
  canceller.join();
}

TEST(CancelToken, AnUnrenewedFenceStopsTheOpBeforeItsEnd) {
  CancelToken t(Clock::now() + 30ms);
  auto start = Clock::now();
  EXPECT_EQ(t.wait_until(start + 60s), StopReason::kFenced);
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 30ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(t.check(), StopReason::kFenced);
}

TEST(CancelToken, RenewalsKeepTheOpRunning) {
  CancelToken t(Clock::now() + 40ms);
  std::atomic<bool> stop{false};
  std::thread renewer([&] {
    while (!stop.load()) {
      t.extend_fence(Clock::now() + 40ms);
      std::this_thread::sleep_for(5ms);
    }
  });
  EXPECT_EQ(t.wait_until(Clock::now() + 150ms), StopReason::kNone);
  stop.store(true);
  renewer.join();
}

}  // namespace
}  // namespace opfleet::worker
