// The time-scale mapping and UTC time stamps.
#include "scheduler/scaled_clock.h"

#include <gtest/gtest.h>

#include "jobs/registry.h"
#include "scheduler/scheduler.h"

namespace opfleet::scheduler {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

SysMicros at(std::string_view text) {
  auto t = parse_utc(text);
  if (!t) throw std::runtime_error(t.error().message);
  return *t;
}

TEST(ScaledClock, HundredTimesFasterAtScaleOneHundredth) {
  const SysMicros a = at("2030-01-01T00:00:00Z");
  const ScaledClock clock{a, 0.01};
  // A */10 schedule ticks every 600 s of schedule time: every 6 s of wall time.
  EXPECT_EQ(clock.to_schedule(a + seconds(6)), a + seconds(600));
  EXPECT_EQ(clock.to_wall(a + minutes(10)), a + seconds(6));
  EXPECT_EQ(clock.to_wall(a + minutes(20)) - clock.to_wall(a + minutes(10)), seconds(6));
  EXPECT_EQ(clock.to_schedule(a), a);  // the clocks agree at the anchor
  EXPECT_EQ(clock.wall_span(seconds(60)), milliseconds(600));
  EXPECT_EQ(clock.schedule_span(milliseconds(600)), seconds(60));
  // Before the anchor too (a restart that keeps the anchor of an earlier run).
  EXPECT_EQ(clock.to_schedule(a - seconds(1)), a - seconds(100));
}

TEST(ScaledClock, RoundTripsToTheMicrosecond) {
  const SysMicros a = at("2030-01-01T00:00:00Z");
  for (double scale : {1.0, 0.5, 0.01, 0.001, 1e-6, 3.0}) {
    const ScaledClock clock{a, scale};
    for (auto w : {a + microseconds(1), a + milliseconds(1234567), a + hours(5), a - hours(2)}) {
      const auto back = clock.to_wall(clock.to_schedule(w));
      EXPECT_LE(std::chrono::abs(back - w), microseconds(1)) << scale;
    }
  }
}

TEST(ScaledClock, ScaleOneIsTheWallClockWhateverTheAnchor) {
  const ScaledClock clock{at("2001-01-01T00:00:00Z"), 1.0};
  const SysMicros w = at("2030-06-01T12:34:56.789Z");
  EXPECT_EQ(clock.to_schedule(w), w);
  EXPECT_EQ(clock.to_wall(w), w);
}

TEST(UtcTime, FormatsAndParses) {
  EXPECT_EQ(format_utc(at("2030-01-02T03:04:05Z")), "2030-01-02T03:04:05Z");
  EXPECT_EQ(at("2030-01-02 03:04:05+00:00"), at("2030-01-02T03:04:05Z"));
  EXPECT_EQ(at("2030-01-02T03:04"), at("2030-01-02T03:04:00Z"));
  EXPECT_EQ(at("2030-01-02T03:04:05.25Z") - at("2030-01-02T03:04:05Z"), milliseconds(250));
  EXPECT_EQ(at("1970-01-01T00:00:01Z").time_since_epoch(), seconds(1));
  EXPECT_EQ(format_utc(at("2024-02-29T23:59:59.999999Z")), "2024-02-29T23:59:59Z");
}

TEST(UtcTime, RejectsWhatIsNotAUtcTime) {
  for (const char* bad :
       {"", "garbage", "2030-02-30T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:00:00+01:00",
        "2030-01-01T00:00:00PST", "2030-01-01", "2030-01-01T00:00:00.Z", "2030/01/01T00:00:00Z"}) {
    auto t = parse_utc(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().kind, ErrorKind::kInvalid);
    }
  }
}

TEST(ScheduleName, ScaledTimelinesHaveNamesOfTheirOwn) {
  EXPECT_EQ(schedule_name("fast_job", 1.0), "fast_job");
  EXPECT_EQ(schedule_name("fast_job", 0.01), "fast_job@x0.01");
  EXPECT_EQ(schedule_name("fast_job", 0.001), "fast_job@x0.001");
}

TEST(LoadSchedules, EveryScheduledJobOrTheChosenOnes) {
  auto registry = jobs::Registry::with_builtins();
  auto all = load_schedules(registry, {}, 1.0);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), registry.jobs().size());  // the built-ins all have */10
  for (const auto& s : *all) EXPECT_EQ(s.cron.text(), "*/10 * * * *");

  auto one = load_schedules(registry, {"fast_job", "fast_job"}, 0.01);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "fast_job@x0.01");
  EXPECT_EQ((*one)[0].job.name, "fast_job");

  auto unknown = load_schedules(registry, {"nope"}, 1.0);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown job 'nope'"), std::string::npos);
}

TEST(LoadSchedules, BadOrMissingScheduleNamesTheJob) {
  jobs::Registry registry;
  jobs::JobDef bad;
  bad.name = "bad_cron";
  bad.schedule = "61 * * * *";  // cron-shaped, so the job file accepts it
  bad.ops.push_back(jobs::OpDef{"a", {}, jobs::SleepParams{1, 0}});
  ASSERT_TRUE(registry.add(bad, "test"));
  jobs::JobDef manual = bad;
  manual.name = "manual";
  manual.schedule.clear();
  ASSERT_TRUE(registry.add(manual, "test"));

  auto r = load_schedules(registry, {}, 1.0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("job 'bad_cron': schedule: minute: '61' is out of range"),
            std::string::npos)
      << r.error().message;
  auto m = load_schedules(registry, {"manual"}, 1.0);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("job 'manual' has no schedule"), std::string::npos);
}

}  // namespace
}  // namespace opfleet::scheduler
