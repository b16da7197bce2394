// The catch-up plan by table: which due ticks a pass submits, for each policy.
#include "scheduler/catch_up.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace opfleet::scheduler {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

SysMicros at(std::string_view text) {
  auto t = parse_utc(text);
  if (!t) throw std::runtime_error(t.error().message);
  return *t;
}

struct PlanCase {
  const char* name;
  const char* expr;
  const char* after;
  const char* now;
  CatchUp policy;
  std::vector<std::string> fire;  // HH:MM of 2030-01-01
  std::vector<bool> missed;
  std::int64_t skipped;
  milliseconds grace = seconds(60);
};

std::string hhmm(SysSeconds t) {
  return format_utc(t).substr(11, 5);
}

class Plan : public ::testing::TestWithParam<PlanCase> {};

TEST_P(Plan, SubmitsWhatThePolicySays) {
  const auto& c = GetParam();
  auto cron = CronExpr::parse(c.expr);
  ASSERT_TRUE(cron);
  const TickPlan plan = plan_ticks(*cron, at(c.after), at(c.now), c.grace, c.policy);
  std::vector<std::string> fired;
  for (auto t : plan.fire) fired.push_back(hhmm(t));
  EXPECT_EQ(fired, c.fire);
  EXPECT_EQ(plan.missed, c.missed);
  EXPECT_EQ(plan.skipped, c.skipped);
  EXPECT_FALSE(plan.skipped_capped);
}

// Cursor at 00:00 (the last recorded tick), schedule every 10 minutes.
INSTANTIATE_TEST_SUITE_P(
    Table, Plan,
    ::testing::Values(
        // Down for 35 minutes: 00:10, 00:20, 00:30 were missed.
        PlanCase{"latest_takes_the_newest_missed",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:35:00Z",
                 CatchUp::kLatest,
                 {"00:30"},
                 {true},
                 2},
        PlanCase{"all_takes_every_missed",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:35:00Z",
                 CatchUp::kAll,
                 {"00:10", "00:20", "00:30"},
                 {true, true, true},
                 0},
        PlanCase{"none_skips_the_missed",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:35:00Z",
                 CatchUp::kNone,
                 {},
                 {},
                 3},
        // Back 10 s after 00:30: that tick is on time, whatever the policy.
        PlanCase{"latest_with_an_on_time_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:30:10Z",
                 CatchUp::kLatest,
                 {"00:20", "00:30"},
                 {true, false},
                 1},
        PlanCase{"none_with_an_on_time_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:30:10Z",
                 CatchUp::kNone,
                 {"00:30"},
                 {false},
                 2},
        PlanCase{"all_with_an_on_time_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:00:00Z",
                 "2030-01-01T00:30:10Z",
                 CatchUp::kAll,
                 {"00:10", "00:20", "00:30"},
                 {true, true, false},
                 0},
        // The grace bound is inclusive; past it the tick is missed.
        PlanCase{"grace_inclusive",
                 "*/10 * * * *",
                 "2030-01-01T00:05:00Z",
                 "2030-01-01T00:11:00Z",
                 CatchUp::kNone,
                 {"00:10"},
                 {false},
                 0},
        PlanCase{"grace_exceeded",
                 "*/10 * * * *",
                 "2030-01-01T00:05:00Z",
                 "2030-01-01T00:11:00.000001Z",
                 CatchUp::kNone,
                 {},
                 {},
                 1},
        PlanCase{"zero_grace_at_the_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:05:00Z",
                 "2030-01-01T00:10:00Z",
                 CatchUp::kNone,
                 {"00:10"},
                 {false},
                 0,
                 milliseconds(0)},
        // The cursor itself is dealt with; nothing before or at it is due again.
        PlanCase{"cursor_on_a_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:30:00Z",
                 "2030-01-01T00:30:05Z",
                 CatchUp::kAll,
                 {},
                 {},
                 0},
        PlanCase{"cursor_just_before_a_tick",
                 "*/10 * * * *",
                 "2030-01-01T00:29:59.999999Z",
                 "2030-01-01T00:30:05Z",
                 CatchUp::kLatest,
                 {"00:30"},
                 {false},
                 0},
        PlanCase{"nothing_due_yet",
                 "*/10 * * * *",
                 "2030-01-01T00:31:00Z",
                 "2030-01-01T00:39:59Z",
                 CatchUp::kAll,
                 {},
                 {},
                 0},
        PlanCase{"now_before_cursor",
                 "*/10 * * * *",
                 "2030-01-01T05:00:00Z",
                 "2030-01-01T00:39:59Z",
                 CatchUp::kAll,
                 {},
                 {},
                 0}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(PlanLimit, AllKeepsTheNewestTicksUpToTheLimit) {
  auto cron = CronExpr::parse("*/10 * * * *");
  ASSERT_TRUE(cron);
  // A day down: 144 ticks (00:10 ... 24:00) due.
  const auto plan = plan_ticks(*cron, at("2030-01-01T00:00:00Z"), at("2030-01-02T00:00:30Z"),
                               seconds(60), CatchUp::kAll, 100);
  ASSERT_EQ(plan.fire.size(), 100u);
  EXPECT_EQ(format_utc(plan.fire.front()), "2030-01-01T07:30:00Z");
  EXPECT_EQ(format_utc(plan.fire.back()), "2030-01-02T00:00:00Z");
  EXPECT_FALSE(plan.missed.back());  // 30 s late: on time
  EXPECT_TRUE(plan.missed.front());
  EXPECT_EQ(plan.skipped, 44);
  EXPECT_EQ(format_utc(*plan.newest_skipped), "2030-01-01T07:20:00Z");
  for (std::size_t i = 1; i < plan.fire.size(); ++i) {
    EXPECT_EQ(plan.fire[i] - plan.fire[i - 1], minutes(10));
  }
}

TEST(PlanLimit, SkippedCountStopsAtTheCap) {
  auto cron = CronExpr::parse("* * * * *");
  ASSERT_TRUE(cron);
  // 30 days of minutes: 43200 missed ticks.
  const auto plan = plan_ticks(*cron, at("2030-01-01T00:00:00Z"), at("2030-01-31T00:00:00Z"),
                               seconds(0), CatchUp::kNone);
  EXPECT_TRUE(plan.fire.size() == 1 && !plan.missed[0]);  // 00:00 on the 31st, zero lateness
  EXPECT_EQ(plan.skipped, kSkipCountCap);
  EXPECT_TRUE(plan.skipped_capped);
}

TEST(PlanLimit, LatestStillTakesOneMissedTickAfterAYear) {
  auto cron = CronExpr::parse("*/10 * * * *");
  ASSERT_TRUE(cron);
  const auto plan = plan_ticks(*cron, at("2029-01-01T00:00:00Z"), at("2030-01-01T00:05:00Z"),
                               seconds(60), CatchUp::kLatest);
  ASSERT_EQ(plan.fire.size(), 1u);
  EXPECT_EQ(format_utc(plan.fire[0]), "2030-01-01T00:00:00Z");
  EXPECT_TRUE(plan.missed[0]);
  EXPECT_TRUE(plan.skipped_capped);
}

TEST(CatchUpPolicy, ParsesItsThreeNames) {
  EXPECT_EQ(*parse_catch_up("latest"), CatchUp::kLatest);
  EXPECT_EQ(*parse_catch_up("all"), CatchUp::kAll);
  EXPECT_EQ(*parse_catch_up("none"), CatchUp::kNone);
  auto bad = parse_catch_up("some");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'some' is not one of latest, all, none"), std::string::npos);
  EXPECT_STREQ(to_string(CatchUp::kAll), "all");
}

}  // namespace
}  // namespace opfleet::scheduler
