// The scheduler against a real PostgreSQL (a database of its own per test), driven by a
// fake wall clock: catch-up policies, cursors across passes and restarts, the time scale
// on runs, atomicity of a tick and its run, and schedulers racing on the same ticks.
#include <gtest/gtest.h>

#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/log.h"
#include "jobs/job.h"
#include "scheduler/scheduler.h"
#include "store/migrations.h"
#include "tests/store/scratch_database.h"

namespace opfleet::scheduler {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
namespace param = store::param;

SysMicros at(std::string_view text) {
  auto t = parse_utc(text);
  if (!t) throw std::runtime_error(t.error().message);
  return *t;
}

const SysMicros kT0 = at("2030-01-01T00:00:00Z");

template <class T>
T must(Result<T> r, std::string_view what) {
  if (!r) throw std::runtime_error(fmt::format("{}: {}", what, r.error().describe()));
  return std::move(*r);
}

// A job of two steps: a root and one that depends on it.
jobs::JobDef job(std::string name, std::string cron) {
  jobs::JobDef j;
  j.name = std::move(name);
  j.schedule = std::move(cron);
  j.ops.push_back(jobs::OpDef{"first", {}, jobs::SleepParams{1, 0}});
  j.ops.push_back(jobs::OpDef{"second", {"first"}, jobs::SleepParams{1, 0}});
  return j;
}

Schedule schedule(const jobs::JobDef& j, double scale = 1.0) {
  return Schedule{schedule_name(j.name, scale), j, must(CronExpr::parse(j.schedule), "cron")};
}

class SchedulerDb : public ::testing::Test {
 protected:
  SchedulerDb() : scratch_("opfleet_sched") {
    log::configure(log::Level::kWarn, log::Format::kText, "scheduler_db_test");
    conn_ = connect();
    must(store::migrate(*conn_), "migrate");
  }

  std::unique_ptr<store::Connection> connect() {
    return must(store::connect(scratch_.options()), "connect");
  }

  // A scheduler whose wall clock is now_.
  std::unique_ptr<Scheduler> make(std::vector<Schedule> schedules, CatchUp policy,
                                  double scale = 1.0, SysMicros anchor = kT0,
                                  store::Connection* conn = nullptr) {
    SchedulerOptions o;
    o.catch_up = policy;
    o.misfire_grace = seconds(60);
    o.max_sleep = std::chrono::hours(1);
    return std::make_unique<Scheduler>(conn != nullptr ? *conn : *conn_, std::move(schedules),
                                       ScaledClock{anchor, scale}, o, Sender{},
                                       [this] { return now_; });
  }

  void plant_tick(const std::string& name, SysMicros t) {
    must(conn_->exec("INSERT INTO schedule_ticks (schedule_name, tick_at, job) "
                     "VALUES ($1, to_timestamp($2::bigint), 'planted')",
                     {param::text(name),
                      param::int64(std::chrono::floor<seconds>(t).time_since_epoch().count())}),
         "plant tick");
  }

  // Recorded ticks of `name` that have a run, oldest first, as "HH:MM".
  std::vector<std::string> run_ticks(const std::string& name) {
    auto rows = must(conn_->exec("SELECT to_char(t.tick_at AT TIME ZONE 'UTC', 'HH24:MI') AS hm "
                                 "  FROM schedule_ticks t JOIN runs r ON r.run_id = t.run_id "
                                 " WHERE t.schedule_name = $1 ORDER BY t.tick_at",
                                 {param::text(name)}),
                     "ticks");
    std::vector<std::string> out;
    for (const auto& row : rows) out.push_back(must(row.get<std::string>("hm"), "hm"));
    return out;
  }

  std::int64_t count(const std::string& sql, const store::Params& params = {}) {
    auto rows = must(conn_->exec(sql, params), sql);
    return must(rows.front().get<std::int64_t>(0), "count");
  }

  testing::ScratchDatabase scratch_;
  std::unique_ptr<store::Connection> conn_;
  SysMicros now_ = kT0;
};

TEST_F(SchedulerDb, LatestSubmitsOnlyTheNewestMissedTickAndRemembersIt) {
  const auto j = job("every10", "*/10 * * * *");
  plant_tick("every10", kT0);  // the last tick before the downtime
  now_ = kT0 + minutes(35);
  auto s = make({schedule(j)}, CatchUp::kLatest);
  auto pass = must(s->run_pass(), "pass");
  EXPECT_EQ(pass.submitted, 1);
  EXPECT_EQ(pass.skipped, 2);
  EXPECT_EQ(run_ticks("every10"), std::vector<std::string>{"00:30"});

  // The run, its steps and its tags came with the tick.
  ASSERT_EQ(pass.run_ids.size(), 1u);
  const auto& run = pass.run_ids[0];
  auto r = must(conn_->exec("SELECT job, tags->>'schedule' AS s, tags->>'tick_at' AS t, "
                            "time_scale FROM runs WHERE run_id = $1",
                            {param::text(run)}),
                "run");
  ASSERT_EQ(r.size(), 1);
  EXPECT_EQ(must(r.front().get<std::string>("job"), "job"), "every10");
  EXPECT_EQ(must(r.front().get<std::string>("s"), "s"), "every10");
  EXPECT_EQ(must(r.front().get<std::string>("t"), "t"), "2030-01-01T00:30:00Z");
  EXPECT_EQ(must(r.front().get<double>("time_scale"), "scale"), 1.0);
  EXPECT_EQ(count("SELECT count(*) FROM steps WHERE run_id = $1 AND status = 'queued' "
                  "AND step_key = 'first' AND sent_at IS NULL",
                  {param::text(run)}),
            1);  // no SQS here: left for the sweeper
  EXPECT_EQ(count("SELECT count(*) FROM steps WHERE run_id = $1 AND status = 'pending'",
                  {param::text(run)}),
            1);

  // Again at the same time: nothing. A restarted scheduler: nothing either (the cursor
  // comes from the recorded tick).
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 0);
  auto restarted = make({schedule(j)}, CatchUp::kLatest);
  auto again = must(restarted->run_pass(), "pass");
  EXPECT_EQ(again.submitted + again.skipped + again.already_recorded, 0);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 1);

  // The next tick, on time.
  now_ = kT0 + minutes(40) + seconds(2);
  EXPECT_EQ(must(restarted->run_pass(), "pass").submitted, 1);
  EXPECT_EQ(run_ticks("every10"), (std::vector<std::string>{"00:30", "00:40"}));
}

TEST_F(SchedulerDb, AllSubmitsEveryMissedTickOldestFirst) {
  const auto j = job("every10", "*/10 * * * *");
  plant_tick("every10", kT0);
  now_ = kT0 + minutes(35);
  auto pass = must(make({schedule(j)}, CatchUp::kAll)->run_pass(), "pass");
  EXPECT_EQ(pass.submitted, 3);
  EXPECT_EQ(pass.skipped, 0);
  EXPECT_EQ(run_ticks("every10"), (std::vector<std::string>{"00:10", "00:20", "00:30"}));
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 3);
}

TEST_F(SchedulerDb, AllIsBoundedToTheNewestHundred) {
  const auto j = job("every10", "*/10 * * * *");
  plant_tick("every10", kT0);
  now_ = kT0 + std::chrono::hours(48) + seconds(30);  // 288 ticks missed
  auto pass = must(make({schedule(j)}, CatchUp::kAll)->run_pass(), "pass");
  EXPECT_EQ(pass.submitted, 100);
  EXPECT_EQ(pass.skipped, 188);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 100);
  EXPECT_EQ(count("SELECT count(*) FROM schedule_ticks WHERE run_id IS NOT NULL AND "
                  "tick_at BETWEEN '2030-01-02T07:30:00Z' AND '2030-01-03T00:00:00Z'"),
            100);
}

TEST_F(SchedulerDb, NoneSkipsMissedTicksButKeepsTheNextOnTime) {
  const auto j = job("every10", "*/10 * * * *");
  plant_tick("every10", kT0);
  now_ = kT0 + minutes(35);
  auto s = make({schedule(j)}, CatchUp::kNone);
  auto pass = must(s->run_pass(), "pass");
  EXPECT_EQ(pass.submitted, 0);
  EXPECT_EQ(pass.skipped, 3);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 0);
  now_ = kT0 + minutes(40) + seconds(1);
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 1);
  EXPECT_EQ(run_ticks("every10"), std::vector<std::string>{"00:40"});
}

TEST_F(SchedulerDb, ANewScheduleOwesNothingBeforeItsStart) {
  const auto j = job("every10", "*/10 * * * *");
  now_ = kT0 + minutes(35);
  auto s = make({schedule(j)}, CatchUp::kAll);
  auto pass = must(s->run_pass(), "pass");
  EXPECT_EQ(pass.submitted + pass.skipped, 0);
  // It sleeps until 00:40 exactly (plus the millisecond that makes the tick due on waking).
  EXPECT_EQ(s->time_to_next_tick(), minutes(5) + std::chrono::milliseconds(1));
  now_ = kT0 + minutes(40);
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 1);
  EXPECT_EQ(run_ticks("every10"), std::vector<std::string>{"00:40"});
}

TEST_F(SchedulerDb, TheTimeScaleDrivesTheClockAndGoesOnTheRuns) {
  const auto j = job("every10", "*/10 * * * *");
  now_ = kT0 + std::chrono::milliseconds(500);  // schedule time 00:00:50
  auto s = make({schedule(j, 0.01)}, CatchUp::kLatest, 0.01, kT0);
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 0);
  // 00:10 of schedule time is 6 s of wall time after the anchor.
  EXPECT_EQ(s->time_to_next_tick(), std::chrono::milliseconds(5500 + 1));
  now_ = kT0 + seconds(6);
  auto pass = must(s->run_pass(), "pass");
  ASSERT_EQ(pass.submitted, 1);
  EXPECT_EQ(run_ticks("every10@x0.01"), std::vector<std::string>{"00:10"});
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE time_scale = 0.01"), 1);
  EXPECT_EQ(s->time_to_next_tick(), std::chrono::milliseconds(6000 + 1));
  now_ = kT0 + seconds(12) - std::chrono::microseconds(1);
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 0);  // not yet
  now_ = kT0 + seconds(12);
  EXPECT_EQ(must(s->run_pass(), "pass").submitted, 1);
}

TEST_F(SchedulerDb, AFailedRunLeavesNoTickAndIsRetriedNextPass) {
  const auto j = job("every10", "*/10 * * * *");
  plant_tick("every10@x2000", kT0);
  // Runs cannot have a time scale above 1000: creating the run fails inside the tick's
  // transaction, which must then leave no tick behind.
  now_ = kT0 + seconds(2000 * 600 + 1);
  auto s = make({schedule(j, 2000)}, CatchUp::kLatest, 2000, kT0);
  for (int pass_no = 0; pass_no < 2; ++pass_no) {
    auto pass = must(s->run_pass(), "pass");
    EXPECT_EQ(pass.submitted, 0);
    ASSERT_EQ(pass.failures.size(), 1u);
    EXPECT_EQ(format_utc(pass.failures[0].tick_at), "2030-01-01T00:10:00Z");
    EXPECT_EQ(pass.failures[0].error.kind, ErrorKind::kInvalid);
    EXPECT_EQ(count("SELECT count(*) FROM schedule_ticks"), 1);  // the planted one only
    EXPECT_EQ(count("SELECT count(*) FROM runs"), 0);
    EXPECT_EQ(s->time_to_next_tick(), std::chrono::microseconds(0));  // still due
  }
}

// Several schedulers, each with its own connection, plan the same ticks at the same
// moment and record them concurrently: every tick gets exactly one run, and the runs
// of the losers are never created.
TEST_F(SchedulerDb, RacingSchedulersSubmitEachTickOnce) {
  constexpr int kSchedulers = 4;
  constexpr int kRounds = 3;
  const auto a = job("race_a", "* * * * *");
  const auto b = job("race_b", "*/2 * * * *");
  plant_tick("race_a", kT0);
  plant_tick("race_b", kT0);

  std::vector<std::unique_ptr<store::Connection>> conns;
  std::vector<std::unique_ptr<Scheduler>> schedulers;
  for (int i = 0; i < kSchedulers; ++i) {
    conns.push_back(connect());
    schedulers.push_back(
        make({schedule(a), schedule(b)}, CatchUp::kAll, 1.0, kT0, conns.back().get()));
  }
  int submitted = 0;
  int already = 0;
  for (int round = 1; round <= kRounds; ++round) {
    now_ = kT0 + std::chrono::hours(round) + seconds(10);  // 60 + 30 new ticks each round
    std::latch start(kSchedulers);
    std::vector<Result<PassReport>> reports(kSchedulers, fail(Error::internal("not run")));
    std::vector<std::thread> threads;
    for (int i = 0; i < kSchedulers; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        reports[static_cast<std::size_t>(i)] = schedulers[static_cast<std::size_t>(i)]->run_pass();
      });
    }
    for (auto& t : threads) t.join();
    for (auto& r : reports) {
      ASSERT_TRUE(r) << r.error().describe();
      EXPECT_TRUE(r->failures.empty());
      submitted += r->submitted;
      already += r->already_recorded;
    }
  }
  const int ticks = kRounds * (60 + 30);
  EXPECT_EQ(submitted, ticks);
  // Every scheduler planned every tick; all but one found it recorded (or, reading the
  // newest recorded tick first, did not need to try).
  EXPECT_LE(already, (kSchedulers - 1) * ticks);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), ticks);
  EXPECT_EQ(count("SELECT count(*) FROM schedule_ticks WHERE run_id IS NOT NULL"), ticks);
  // One run per (schedule, tick), and each tick row points at the run made for it.
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY tags->>'schedule', "
                  "tags->>'tick_at' HAVING count(*) > 1) d"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM schedule_ticks t JOIN runs r ON r.run_id = t.run_id "
                  " WHERE r.tags->>'schedule' = t.schedule_name AND r.job = t.job "
                  "   AND r.tags->>'tick_at' = to_char(t.tick_at AT TIME ZONE 'UTC', "
                  "                                     'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"),
            ticks);
  EXPECT_EQ(count("SELECT count(*) FROM steps"), 2 * ticks);
}

}  // namespace
}  // namespace opfleet::scheduler
