// Jobs end to end through real `opfleet worker` processes: every built-in job, many runs
// across two workers, and the dependency order of steps — each checked against the
// attempts log with the exactly-once audit.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "jobs/graph.h"
#include "tests/support/fleet_fixture.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

// 20 s ops take 40 ms, 5 min ops 0.6 s: a whole built-in job runs in about a second.
constexpr double kScale = 0.002;

jobs::OpDef sleep_op(std::string key, double mean_s, std::vector<std::string> deps = {}) {
  return jobs::OpDef{std::move(key), std::move(deps), jobs::SleepParams{mean_s, 0}};
}

void expect_audit_clean(Fleet& fleet) {
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
}

class BuiltinJob : public ::testing::TestWithParam<std::string> {};

TEST_P(BuiltinJob, RunsToSuccessWithOneExecutionPerStep) {
  Fleet fleet;
  fleet.start_worker({.slots = 4});
  const jobs::JobDef& job = Fleet::builtin(GetParam());
  const std::string run = fleet.submit(job, kScale);
  ASSERT_EQ(fleet.wait_run(run, 60s), "succeeded");

  auto steps = fleet.steps(run);
  ASSERT_EQ(steps.size(), job.ops.size());
  for (const auto& s : steps) {
    EXPECT_EQ(s.status, "succeeded") << s.key;
    EXPECT_EQ(s.attempt, 1) << s.key;
    // The op slept its own duration, scaled: the worker ran this op, not another.
    const jobs::OpDef* op = jobs::find_op(job, s.step_key);
    ASSERT_NE(op, nullptr) << s.step_key;
    const auto& p = std::get<jobs::SleepParams>(op->params);
    const double slept = s.result.value("slept_ms", -1.0);
    EXPECT_GE(slept, (p.mean_s - p.jitter_s) * kScale * 1000 - 0.01) << s.key;
    EXPECT_LE(slept, (p.mean_s + p.jitter_s) * kScale * 1000 + 0.01) << s.key;
  }
  auto attempts = fleet.attempts(run);
  EXPECT_EQ(attempts.size(), job.ops.size());
  for (const auto& a : attempts) {
    EXPECT_EQ(a.outcome, "succeeded") << a.key;
    EXPECT_EQ(a.worker_id, "w1") << a.key;
  }
  expect_audit_clean(fleet);
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s)) << "messages left behind";
}

INSTANTIATE_TEST_SUITE_P(Builtins, BuiltinJob,
                         ::testing::Values("fast_job", "slow_job", "mixed_job", "parallel_fast_job",
                                           "sequential_slow_job"),
                         [](const auto& p) { return p.param; });

TEST(WorkerFleet, TwentyConcurrentRunsAcrossTwoWorkersKeepTheInvariants) {
  Fleet fleet;
  fleet.start_worker({.slots = 4});
  fleet.start_worker({.slots = 4});
  const std::vector<std::string> names = {"fast_job", "mixed_job", "parallel_fast_job",
                                          "sequential_slow_job", "slow_job"};
  std::vector<std::string> runs;
  std::size_t expected_steps = 0;
  for (int i = 0; i < 20; ++i) {
    const auto& job = Fleet::builtin(names[static_cast<std::size_t>(i) % names.size()]);
    runs.push_back(fleet.submit(job, kScale));
    expected_steps += job.ops.size();
  }
  ASSERT_TRUE(fleet.wait_runs(runs, 120s));
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded") << r;

  auto attempts = fleet.attempts();
  EXPECT_EQ(attempts.size(), expected_steps) << "an op ran more than once or not at all";
  std::set<std::string> workers;
  for (const auto& a : attempts) workers.insert(a.worker_id);
  EXPECT_EQ(workers, (std::set<std::string>{"w1", "w2"})) << "the load did not spread";
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  EXPECT_EQ(a.completions.size(), expected_steps);
  for (const auto& [key, n] : a.completions) EXPECT_EQ(n, 1) << key;
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
}

TEST(WorkerFleet, AStepNeverStartsBeforeItsDependenciesComplete) {
  Fleet fleet;
  fleet.start_worker({.slots = 4});
  fleet.start_worker({.slots = 4});
  // A diamond with uneven branches (the join must wait for the slow one) and a fan-in of
  // three; plus the built-in DAGs.
  jobs::JobDef diamond;
  diamond.name = "diamond";
  diamond.schedule = "";
  diamond.ops = {sleep_op("top", 0.05),
                 sleep_op("quick", 0.02, {"top"}),
                 sleep_op("slow", 0.4, {"top"}),
                 sleep_op("join", 0.01, {"quick", "slow"}),
                 sleep_op("a", 0.1),
                 sleep_op("b", 0.2),
                 sleep_op("c", 0.3),
                 sleep_op("fan_in", 0.01, {"a", "b", "c", "join"})};
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(fleet.submit(diamond, 1.0));
    runs.push_back(fleet.submit(Fleet::builtin("mixed_job"), kScale));
    runs.push_back(fleet.submit(Fleet::builtin("sequential_slow_job"), kScale));
    runs.push_back(fleet.submit(Fleet::builtin("parallel_fast_job"), kScale));
  }
  ASSERT_TRUE(fleet.wait_runs(runs, 120s));

  int checked = 0;
  for (const auto& run : runs) {
    EXPECT_EQ(fleet.run_status(run), "succeeded") << run;
    std::map<std::string, StepRow> by_key;
    for (auto& s : fleet.steps(run)) by_key[s.step_key] = s;
    for (const auto& a : fleet.attempts(run)) {
      for (const auto& dep : by_key.at(a.step_key).depends_on) {
        const StepRow& d = by_key.at(dep);
        ASSERT_TRUE(d.finished_at) << d.key;
        EXPECT_GE(a.started_at, *d.finished_at)
            << a.key << " started " << (*d.finished_at - a.started_at) << " us before its "
            << "dependency " << dep << " finished";
        // And after the dependency's own execution ended, per the attempts log.
        for (const auto& da : fleet.attempts_of(d.key)) {
          if (da.outcome != "succeeded") continue;
          ASSERT_TRUE(da.ended_at);
          EXPECT_GE(a.started_at, *da.ended_at) << a.key << " vs " << da.key;
        }
        ++checked;
      }
    }
  }
  // 3 x (diamond 8 edges + mixed 2 + sequential 2 + parallel 3), one attempt per step
  EXPECT_EQ(checked, 3 * (8 + 2 + 2 + 3));
  expect_audit_clean(fleet);
}

}  // namespace
}  // namespace opfleet::testing
