// Plans: how many submissions, when, which jobs, and the fault timeline.
#include <gtest/gtest.h>

#include <map>

#include "loadsim/plan.h"

namespace opfleet::loadsim {
namespace {

using namespace std::chrono_literals;

std::map<std::string, int> by_job(const std::vector<Arrival>& a) {
  std::map<std::string, int> out;
  for (const auto& x : a) ++out[x.job];
  return out;
}

TEST(Plan, SteadyIsEvenlySpacedAtTheRate) {
  Scenario s = builtin("steady", 10s).value();
  s.rate = 2;
  const auto a = plan_arrivals(s);
  ASSERT_EQ(a.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].at, Millis(500 * i));
  EXPECT_EQ(a.back().at, 9500ms);
}

TEST(Plan, MixIsExactAndInterleaved) {
  Scenario s = builtin("mixed", 100s).value();  // 70/20/10
  s.rate = 1;
  const auto a = plan_arrivals(s);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(by_job(a),
            (std::map<std::string, int>{{"fast_job", 70}, {"mixed_job", 10}, {"slow_job", 20}}));
  // Any prefix of ten holds the proportions as closely as whole runs can.
  std::vector<Arrival> first(a.begin(), a.begin() + 10);
  EXPECT_EQ(by_job(first),
            (std::map<std::string, int>{{"fast_job", 7}, {"mixed_job", 1}, {"slow_job", 2}}));
}

TEST(Plan, BurstsAreFiveTimesTheRateInsideTheirWindows) {
  Scenario s = builtin("burst", 30s).value();  // every 10s from 5s, 2s long, x5
  s.rate = 2;
  const auto a = plan_arrivals(s);
  int in = 0;
  int out = 0;
  for (const auto& x : a) (s.burst.active_at(x.at) ? in : out)++;
  // 3 windows of 2 s at 10/s, the other 24 s at 2/s.
  EXPECT_EQ(in, 60);
  EXPECT_NEAR(out, 48, 2);
  // Inside a window the gap is a fifth of the base gap.
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (s.burst.active_at(a[i - 1].at) && s.burst.active_at(a[i].at)) {
      EXPECT_EQ(a[i].at - a[i - 1].at, 100ms);
    }
  }
}

TEST(Plan, ASlowBaseRateDoesNotSkipABurst) {
  Scenario s = builtin("burst", 30s).value();
  s.rate = 0.1;  // one run per 10 s, the windows are 2 s long
  s.burst.factor = 10;
  const auto a = plan_arrivals(s);
  int in = 0;
  for (const auto& x : a) in += s.burst.active_at(x.at) ? 1 : 0;
  EXPECT_GE(in, 3);
}

TEST(Plan, PoissonArrivalsFollowTheSeed) {
  Scenario s = builtin("steady", 200s).value();
  s.rate = 5;
  s.arrivals = Arrivals::kPoisson;
  s.seed = 42;
  const auto a = plan_arrivals(s);
  const auto b = plan_arrivals(s);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].at, b[i].at);
  EXPECT_NEAR(static_cast<double>(a.size()), 1000.0, 100.0);  // 4.5 sigma of a Poisson(1000)
  s.seed = 43;
  const auto c = plan_arrivals(s);
  bool differs = c.size() != a.size();
  for (std::size_t i = 0; !differs && i < a.size(); ++i) differs = a[i].at != c[i].at;
  EXPECT_TRUE(differs);
}

TEST(Plan, FaultTimelineIsSortedWithEndsBeforeStartsOnATie) {
  Scenario s = builtin("steady", 20s).value();
  s.kill_every = 5s;
  s.kill_start = 5s;
  s.kill_count = 2;
  s.kill_at = {12s};
  s.partitions = {{2s, 3s, PartitionTarget::kSqs, "blackhole"},
                  {5s, 4s, PartitionTarget::kPg, "reject"}};
  const auto f = plan_faults(s);
  std::vector<std::pair<Millis, ActionKind>> got;
  for (const auto& x : f) got.emplace_back(x.at, x.kind);
  const std::vector<std::pair<Millis, ActionKind>> want = {
      {2s, ActionKind::kPartitionStart}, {5s, ActionKind::kPartitionEnd},
      {5s, ActionKind::kKillWorkers},    {5s, ActionKind::kPartitionStart},
      {9s, ActionKind::kPartitionEnd},   {10s, ActionKind::kKillWorkers},
      {12s, ActionKind::kKillWorkers},   {15s, ActionKind::kKillWorkers}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(f[2].count, 2);
  EXPECT_EQ(f[3].window, 1u);
}

}  // namespace
}  // namespace opfleet::loadsim
