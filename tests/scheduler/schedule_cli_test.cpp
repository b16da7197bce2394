// `opfleet schedule` as a process, against the stack's PostgreSQL and SQS emulator (a
// database and queues of its own per test, from tests/support/fleet_fixture.h): two
// schedulers racing, the time scale in wall time, catch-up with --once, signals, exit codes.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "scheduler/cron.h"
#include "scheduler/scaled_clock.h"
#include "tests/store/scratch_database.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/stack_env.h"

namespace opfleet::scheduler {
namespace {

using opfleet::testing::ChildProcess;
using opfleet::testing::Fleet;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace param = store::param;

constexpr const char* kJobs = R"({"version": 1, "jobs": [
  {"name": "race_job", "schedule": "* * * * *",
   "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]},
  {"name": "every10", "schedule": "*/10 * * * *",
   "ops": [{"key": "a", "kind": "sleep", "mean_s": 1},
           {"key": "b", "kind": "sleep", "mean_s": 1, "depends_on": ["a"]}]},
  {"name": "yearly_a", "schedule": "0 0 1 1 *", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]},
  {"name": "yearly_b", "schedule": "0 0 1 1 *", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]},
  {"name": "yearly_c", "schedule": "0 0 1 1 *", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}
]})";

constexpr const char* kBadJobs = R"({"version": 1, "jobs": [
  {"name": "bad_cron", "schedule": "61 * * * *", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}
]})";

// The test's environment without OPFLEET_* (flags configure the scheduler), with dummy
// AWS credentials for the emulator.
std::vector<std::string> child_env() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("OPFLEET_")) env.emplace_back(*e);
  }
  env.emplace_back("AWS_ACCESS_KEY_ID=test");
  env.emplace_back("AWS_SECRET_ACCESS_KEY=test");
  return env;
}

std::vector<nlohmann::json> events(const ChildProcess& p, std::string_view event) {
  std::vector<nlohmann::json> out;
  std::istringstream in(p.output());
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == event) out.push_back(std::move(j));
  }
  return out;
}

int exit_code(const std::optional<int>& status) {
  if (!status) return -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
}

class ScheduleCli : public ::testing::Test {
 protected:
  ScheduleCli() {
    std::ofstream(fleet_.dir() + "/jobs.json") << kJobs;
    std::ofstream(fleet_.dir() + "/bad.json") << kBadJobs;
  }

  // The fleet's database, endpoint, queue and job file, unless `extra` names its own.
  std::vector<std::string> argv(const std::vector<std::string>& extra,
                                std::string database_url = {}) {
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--config", fleet_.dir() + "/empty.conf"},
        {"--database-url", database_url.empty() ? fleet_.database_url() : database_url},
        {"--sqs-endpoint", fleet_.sqs_endpoint()},
        {"--queue-name", fleet_.queue_name()},
        {"--jobs-file", fleet_.dir() + "/jobs.json"},
        {"--log-format", "json"}};
    std::vector<std::string> a = {testing::opfleet_binary(), "schedule"};
    for (const auto& [flag, value] : defaults) {
      if (std::find(extra.begin(), extra.end(), flag) != extra.end()) continue;
      a.push_back(flag);
      a.push_back(value);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::unique_ptr<ChildProcess> start(const std::vector<std::string>& extra,
                                      const std::string& name,
                                      const std::string& database_url = {}) {
    return std::make_unique<ChildProcess>(argv(extra, database_url), child_env(),
                                          fmt::format("{}/{}.log", fleet_.dir(), name));
  }

  // Runs to completion (30 s at most) and returns the exit code.
  int run(const std::vector<std::string>& extra, const std::string& name,
          const std::string& database_url = {}) {
    auto p = start(extra, name, database_url);
    const int rc = exit_code(p->wait(seconds(30)));
    last_output_ = p->output();
    return rc;
  }

  std::int64_t count(const std::string& sql, const store::Params& params = {}) {
    auto rows = fleet_.db().exec(sql, params);
    if (!rows) throw std::runtime_error(rows.error().describe());
    return *rows->front().get<std::int64_t>(0);
  }

  void plant_tick(const std::string& schedule, const std::string& at) {
    auto r = fleet_.db().exec(
        "INSERT INTO schedule_ticks (schedule_name, tick_at, job) VALUES ($1, $2, 'planted')",
        {param::text(schedule), param::text(at)});
    if (!r) throw std::runtime_error(r.error().describe());
  }

  Fleet fleet_;
  std::string last_output_;
};

// Two processes on one scaled timeline (same --time-scale and --time-anchor) wake up for
// the same ticks at the same instants: every tick still gets exactly one run.
TEST_F(ScheduleCli, TwoSchedulersNeverSubmitATickTwice) {
  const std::string anchor = format_utc(wall_now());
  const std::vector<std::string> args = {"--job",         "race_job", "--time-scale", "0.001",
                                         "--time-anchor", anchor,     "--log-level",  "debug"};
  auto a = start(args, "sched-a");
  auto b = start(args, "sched-b");
  // A minutely schedule at 0.001 ticks every 60 ms.
  const std::string ticks_sql =
      "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'race_job@x0.001'";
  ASSERT_TRUE(Fleet::wait_until([&] { return count(ticks_sql) >= 30; }, seconds(30)))
      << a->output() << b->output();
  a->signal(SIGTERM);
  b->signal(SIGINT);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(exit_code(a->wait(seconds(5))), 0) << a->output();
  EXPECT_EQ(exit_code(b->wait(seconds(5))), 0) << b->output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(3));

  const std::int64_t ticks = count(ticks_sql);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), ticks);
  EXPECT_EQ(count("SELECT count(*) FROM schedule_ticks t JOIN runs r ON r.run_id = t.run_id "
                  " WHERE r.time_scale = 0.001 AND r.tags->>'schedule' = t.schedule_name"),
            ticks);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY tags->>'tick_at' "
                  "HAVING count(*) > 1) d"),
            0);
  // Each tick logged once, by the scheduler that submitted it; its root was sent.
  std::map<std::string, int> logged;
  std::int64_t sent = 0;
  for (const auto* p : {a.get(), b.get()}) {
    for (const auto& e : events(*p, "tick_submitted")) {
      ++logged[e.at("tick_at").get<std::string>()];
      sent += e.at("sent").get<std::int64_t>();
    }
    EXPECT_EQ(events(*p, "scheduler_stopped").size(), 1u);
  }
  EXPECT_EQ(static_cast<std::int64_t>(logged.size()), ticks);
  for (const auto& [tick, n] : logged) EXPECT_EQ(n, 1) << tick;
  EXPECT_EQ(sent, ticks);
  EXPECT_EQ(count("SELECT count(*) FROM steps WHERE sent_at IS NOT NULL"), ticks);
  RecordProperty("ticks", static_cast<int>(ticks));
  RecordProperty("submitted_by_a", static_cast<int>(events(*a, "tick_submitted").size()));
  RecordProperty("already_recorded_seen_by_a",
                 static_cast<int>(events(*a, "tick_already_recorded").size()));
}

// At --time-scale 0.001 a */10 schedule ticks every 0.6 s of wall time, each tick at
// W(t) = A + (t - A) * 0.001, never before, and its runs carry the time scale.
TEST_F(ScheduleCli, TheTimeScaleMapsTicksOntoWallTime) {
  const SysMicros anchor = std::chrono::floor<seconds>(wall_now());
  auto p = start({"--job", "every10", "--time-scale", "0.001", "--time-anchor", format_utc(anchor)},
                 "sched");
  const std::string ticks_sql =
      "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'every10@x0.001'";
  ASSERT_TRUE(Fleet::wait_until([&] { return count(ticks_sql) >= 4; }, seconds(30))) << p->output();
  p->signal(SIGTERM);
  EXPECT_EQ(exit_code(p->wait(seconds(5))), 0) << p->output();

  auto rows = fleet_.db().exec(
      "SELECT extract(epoch FROM tick_at)::bigint AS tick_s, "
      "       (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded_us "
      "  FROM schedule_ticks WHERE schedule_name = 'every10@x0.001' ORDER BY tick_at");
  ASSERT_TRUE(rows) << rows.error().describe();
  const ScaledClock clock{anchor, 0.001};
  std::int64_t previous = 0;
  for (const auto& row : *rows) {
    const auto tick = SysMicros(seconds(*row.get<std::int64_t>("tick_s")));
    const auto recorded =
        SysMicros(std::chrono::microseconds(*row.get<std::int64_t>("recorded_us")));
    const auto due = clock.to_wall(tick);
    EXPECT_GE(recorded, due) << "tick " << format_utc(tick) << " recorded before its wall time";
    EXPECT_LT(recorded - due, milliseconds(500)) << "tick " << format_utc(tick) << " late";
    const std::int64_t s = *row.get<std::int64_t>("tick_s");
    if (previous != 0) {
      EXPECT_EQ(s - previous, 600);  // every 10 minutes of schedule time
    }
    previous = s;
  }
  const auto started = events(*p, "scheduler_started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].at("time_anchor_us").get<std::int64_t>(), anchor.time_since_epoch().count());
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE time_scale = 0.001"), rows->size());
  // Roots sent (one per run), downstream steps pending.
  EXPECT_EQ(count("SELECT count(*) FROM steps WHERE step_key = 'a' AND sent_at IS NOT NULL"),
            rows->size());
  EXPECT_EQ(count("SELECT count(*) FROM steps WHERE step_key = 'b' AND status = 'pending'"),
            rows->size());
}

// After downtime (a recorded tick years ago), one pass with each policy.
TEST_F(ScheduleCli, OnceCatchesUpByPolicy) {
  for (const char* job : {"yearly_a", "yearly_b", "yearly_c"}) {
    plant_tick(job, "2020-01-01T00:00:00Z");
  }
  auto yearly = CronExpr::parse("0 0 1 1 *");
  ASSERT_TRUE(yearly);
  const SysSeconds now = std::chrono::floor<seconds>(wall_now());
  std::vector<std::string> missed;
  for (SysSeconds t =
           yearly->next_after(std::chrono::floor<seconds>(*parse_utc("2020-01-01T00:00:00Z")));
       t <= now; t = yearly->next_after(t)) {
    missed.push_back(format_utc(t));
  }
  ASSERT_GE(missed.size(), 5u);

  auto runs_of = [&](const char* job) {
    return count("SELECT count(*) FROM runs WHERE job = $1", {param::text(job)});
  };
  ASSERT_EQ(run({"--once", "--job", "yearly_a", "--catch-up", "latest"}, "latest"), 0)
      << last_output_;
  EXPECT_EQ(runs_of("yearly_a"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE job = 'yearly_a' AND tags->>'tick_at' = $1",
                  {param::text(missed.back())}),
            1);
  // Once recorded, a second pass has nothing to do.
  ASSERT_EQ(run({"--once", "--job", "yearly_a", "--catch-up", "latest"}, "latest2"), 0);
  EXPECT_EQ(runs_of("yearly_a"), 1);

  ASSERT_EQ(run({"--once", "--job", "yearly_b", "--catch-up", "all"}, "all"), 0) << last_output_;
  EXPECT_EQ(runs_of("yearly_b"), static_cast<std::int64_t>(missed.size()));

  ASSERT_EQ(run({"--once", "--job", "yearly_c", "--catch-up", "none"}, "none"), 0) << last_output_;
  EXPECT_EQ(runs_of("yearly_c"), 0);
  EXPECT_NE(last_output_.find("\"event\":\"ticks_skipped\""), std::string::npos) << last_output_;
}

TEST_F(ScheduleCli, SigtermEndsTheSleepAtOnce) {
  auto p = start({"--job", "yearly_a", "--log-level", "debug"}, "sleeper");
  ASSERT_TRUE(p->wait_for_output("\"event\":\"scheduler_sleep\"", seconds(20))) << p->output();
  const auto t0 = std::chrono::steady_clock::now();
  p->signal(SIGTERM);
  EXPECT_EQ(exit_code(p->wait(seconds(5))), 0) << p->output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(1));
  EXPECT_EQ(events(*p, "scheduler_stopped").size(), 1u);
}

TEST_F(ScheduleCli, ExitCodes) {
  EXPECT_EQ(run({"--once", "--job", "nope"}, "unknown"), cli::kExitUsage);
  EXPECT_NE(last_output_.find("unknown job 'nope'"), std::string::npos) << last_output_;
  EXPECT_EQ(run({"--once", "--job", "every10", "--time-anchor", "yesterday"}, "anchor"),
            cli::kExitUsage);
  EXPECT_EQ(run({"--once", "--job", "every10", "--catch-up", "sometimes"}, "policy"),
            cli::kExitUsage);
  EXPECT_EQ(run({"--once", "--job", "every10", "--time-scale", "0"}, "scale"), cli::kExitUsage);
  EXPECT_EQ(run({"--once", "--jobs-file", fleet_.dir() + "/bad.json", "--job", "bad_cron"}, "cron"),
            cli::kExitUsage);
  EXPECT_NE(last_output_.find("job 'bad_cron': schedule: minute: '61' is out of range 0-59"),
            std::string::npos)
      << last_output_;
  EXPECT_EQ(run({"--once", "--job", "every10", "--queue-name",
                 testing::unique_name("no-such-queue") + ".fifo"},
                "queue"),
            cli::kExitConfig);
  {
    testing::ScratchDatabase empty("opfleet_sched_empty");
    EXPECT_EQ(run({"--once", "--job", "every10"}, "unmigrated", empty.url()), cli::kExitConfig);
    EXPECT_NE(last_output_.find("schema_not_migrated"), std::string::npos) << last_output_;
  }
  EXPECT_EQ(run({"--once", "--job", "every10"}, "ok"), cli::kExitOk) << last_output_;
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 0);  // a fresh schedule owes nothing yet
}

}  // namespace
}  // namespace opfleet::scheduler
