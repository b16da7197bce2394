#include "scaler/decision.h"

#include <vector>

#include <gtest/gtest.h>

namespace opfleet::scaler {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

Metrics queue(std::int64_t visible, std::int64_t in_flight = 0, Clock::time_point at = kT0) {
  Metrics m;
  m.visible = visible;
  m.in_flight = in_flight;
  m.observed_at = at;
  return m;
}

Policy threshold_policy() {
  Policy p;
  p.kind = PolicyKind::kThreshold;
  return p;  // the seed's defaults: >5/worker up, <2/worker down, 2..20, 60 s cooldowns
}

struct ThresholdCase {
  const char* name;
  std::int64_t visible;
  int workers;
  Action action;
  int to;
};

TEST(ThresholdPolicy, SeedRulesByTable) {
  const ThresholdCase cases[] = {
      {"busy: 26 > 5x5", 26, 5, Action::kScaleOut, 6},
      {"exactly at the up threshold holds", 25, 5, Action::kNone, 5},
      {"between thresholds holds", 15, 5, Action::kNone, 5},
      {"exactly at the down threshold holds", 10, 5, Action::kNone, 5},
      {"quiet: 9 < 2x5", 9, 5, Action::kScaleIn, 4},
      {"empty queue at min holds", 0, 2, Action::kNone, 2},
      {"busy at max holds", 1000, 20, Action::kNone, 20},
      {"below min clamps up without metrics logic", 0, 1, Action::kScaleOut, 2},
      {"above max clamps down", 1000, 25, Action::kScaleIn, 20},
  };
  for (const auto& c : cases) {
    auto d = decide(threshold_policy(), queue(c.visible), Capacity{c.workers, c.workers}, {}, kT0);
    EXPECT_EQ(d.action, c.action) << c.name << ": " << d.reason;
    EXPECT_EQ(d.to, c.to) << c.name;
    EXPECT_EQ(d.from, c.workers) << c.name;
    EXPECT_FALSE(d.reason.empty()) << c.name;
  }
}

TEST(ThresholdPolicy, StepSizesAreConfigurable) {
  Policy p = threshold_policy();
  p.threshold.step_out = 4;
  p.threshold.step_in = 3;
  EXPECT_EQ(decide(p, queue(100), Capacity{5, 5}, {}, kT0).to, 9);
  EXPECT_EQ(decide(p, queue(0), Capacity{8, 8}, {}, kT0).to, 5);
  // Steps never cross the limits.
  EXPECT_EQ(decide(p, queue(1000), Capacity{18, 18}, {}, kT0).to, 20);
  EXPECT_EQ(decide(p, queue(0), Capacity{3, 3}, {}, kT0).to, 2);
}

TEST(ThresholdPolicy, CooldownsAreSeparate) {
  Policy p = threshold_policy();
  p.limits.scale_out_cooldown = 30s;
  p.limits.scale_in_cooldown = 120s;
  History h;
  h.last_scale_out = kT0 - 20s;
  auto d = decide(p, queue(100), Capacity{5, 5}, h, kT0);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  EXPECT_NE(d.reason.find("cooldown"), std::string::npos);
  d = decide(p, queue(100, 0, kT0 + 10s), Capacity{5, 5}, h, kT0 + 10s);
  EXPECT_EQ(d.action, Action::kScaleOut) << d.reason;
  EXPECT_EQ(d.history.last_scale_out, kT0 + 10s);

  // Scale-in waits for its own (longer) cooldown after a scale-out.
  d = decide(p, queue(0, 0, kT0 + 60s), Capacity{6, 6}, h, kT0 + 60s);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  d = decide(p, queue(0, 0, kT0 + 101s), Capacity{6, 6}, h, kT0 + 101s);
  EXPECT_EQ(d.action, Action::kScaleIn) << d.reason;

  // Reversing a recent scale-in waits for the scale-out cooldown (anti-flap), no longer.
  History after_in;
  after_in.last_scale_in = kT0 - 1s;
  EXPECT_EQ(decide(p, queue(100), Capacity{5, 5}, after_in, kT0).action, Action::kNone);
  EXPECT_EQ(decide(p, queue(100, 0, kT0 + 29s), Capacity{5, 5}, after_in, kT0 + 29s).action,
            Action::kScaleOut);
}

TEST(Decision, NeverScalesInOnMissingOrStaleMetrics) {
  Policy p = threshold_policy();
  Metrics missing;
  auto d = decide(p, missing, Capacity{10, 10}, {}, kT0);
  EXPECT_EQ(d.action, Action::kNone);
  EXPECT_NE(d.reason.find("missing"), std::string::npos);

  auto stale = queue(0, 0, kT0 - 31s);  // would be a scale-in if fresh
  d = decide(p, stale, Capacity{10, 10}, {}, kT0);
  EXPECT_EQ(d.action, Action::kNone);
  EXPECT_NE(d.reason.find("stale"), std::string::npos) << d.reason;

  p.kind = PolicyKind::kTarget;
  Metrics no_in_flight = queue(0);
  no_in_flight.in_flight.reset();
  d = decide(p, no_in_flight, Capacity{10, 10}, {}, kT0);
  EXPECT_EQ(d.action, Action::kNone);
}

TEST(Decision, BaseIsTheDesiredCountNotTheRunningOne) {
  // Asked for 8, only 3 up yet: 30 visible is not "over 3 x 5" but within 8's thresholds.
  auto d = decide(threshold_policy(), queue(30), Capacity{3, 8}, {}, kT0);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  EXPECT_EQ(d.from, 8);
}

TEST(Decision, FlappingInputDoesNotFlap) {
  // Queue depth alternating around the thresholds every 10 s for 10 minutes, with the
  // seed's hysteresis and cooldowns: at most one action per cooldown period.
  Policy p = threshold_policy();
  History h;
  int workers = 5;
  std::vector<Clock::time_point> actions;
  for (int i = 0; i < 60; ++i) {
    auto now = kT0 + std::chrono::seconds(10 * i);
    std::int64_t visible = (i % 2 == 0) ? 26 : 9;  // just over up / just under down
    auto d = decide(p, queue(visible, 0, now), Capacity{workers, workers}, h, now);
    h = d.history;
    if (d.action != Action::kNone) {
      actions.push_back(now);
      workers = d.to;
    }
  }
  for (size_t i = 1; i < actions.size(); ++i) {
    EXPECT_GE(actions[i] - actions[i - 1], 60s);
  }
  EXPECT_LE(actions.size(), 10u);
  EXPECT_GE(actions.size(), 2u);  // it still reacts
}

Policy target_policy() {
  Policy p;
  p.kind = PolicyKind::kTarget;
  p.limits.min = 1;
  p.limits.max = 50;
  p.limits.scale_out_cooldown = 30s;
  p.limits.scale_in_cooldown = 60s;
  p.target.target_backlog_per_worker = 4;
  p.target.tolerance = 0.1;
  p.target.max_step_in = 2;
  p.target.scale_in_stable_for = 60s;
  return p;
}

TEST(TargetPolicy, TargetFromLatencyAndOpTime) {
  EXPECT_DOUBLE_EQ(target_backlog(60, 20, 1), 3);
  EXPECT_DOUBLE_EQ(target_backlog(60, 20, 4), 12);
  EXPECT_DOUBLE_EQ(target_backlog(10, 300, 1), 1);  // never below one op per worker
}

struct TargetCase {
  const char* name;
  std::int64_t visible;
  std::int64_t in_flight;
  int workers;
  Action action;
  int to;
};

TEST(TargetPolicy, ScalesOutStraightToTheNeed) {
  const TargetCase cases[] = {
      {"40 backlog / 4 = 10 workers", 30, 10, 5, Action::kScaleOut, 10},
      {"within tolerance holds", 17, 4, 5, Action::kNone, 5},  // 4.2/worker
      {"needs more than max: clamp", 1000, 0, 5, Action::kScaleOut, 50},
  };
  for (const auto& c : cases) {
    auto d = decide(target_policy(), queue(c.visible, c.in_flight), Capacity{c.workers, c.workers},
                    {}, kT0);
    EXPECT_EQ(d.action, c.action) << c.name << ": " << d.reason;
    EXPECT_EQ(d.to, c.to) << c.name;
    ASSERT_TRUE(d.backlog_per_worker) << c.name;
  }
}

TEST(TargetPolicy, ScalesInOnlyAfterStableLowNeedAndInBoundedSteps) {
  Policy p = target_policy();
  History h;
  // Backlog 4 with 10 workers: need 1. First observation starts the low period.
  auto d = decide(p, queue(2, 2), Capacity{10, 10}, h, kT0);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  ASSERT_TRUE(d.history.low_since);
  h = d.history;
  d = decide(p, queue(2, 2, kT0 + 30s), Capacity{10, 10}, h, kT0 + 30s);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  h = d.history;
  d = decide(p, queue(2, 2, kT0 + 61s), Capacity{10, 10}, h, kT0 + 61s);
  EXPECT_EQ(d.action, Action::kScaleIn) << d.reason;
  EXPECT_EQ(d.to, 8);  // at most max_step_in at a time
  EXPECT_FALSE(d.history.low_since);

  // A spike in the middle of the low period resets it.
  History h2;
  d = decide(p, queue(2, 2), Capacity{10, 10}, h2, kT0);
  h2 = d.history;
  d = decide(p, queue(40, 0, kT0 + 30s), Capacity{10, 10}, h2, kT0 + 30s);  // exactly target
  h2 = d.history;
  EXPECT_FALSE(h2.low_since);
  d = decide(p, queue(2, 2, kT0 + 61s), Capacity{10, 10}, h2, kT0 + 61s);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
}

TEST(TargetPolicy, ScaleInRespectsCooldownAfterScaleOut) {
  Policy p = target_policy();
  History h;
  h.last_scale_out = kT0 - 10s;
  h.low_since = kT0 - 120s;
  auto d = decide(p, queue(0, 0), Capacity{10, 10}, h, kT0);
  EXPECT_EQ(d.action, Action::kNone) << d.reason;
  EXPECT_NE(d.reason.find("cooldown"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace opfleet::scaler
