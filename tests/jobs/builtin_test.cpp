// The built-in jobs: valid, and shaped exactly as the seed system's.
#include "jobs/builtin.h"

#include <gtest/gtest.h>

#include "jobs/graph.h"
#include "jobs/parse.h"

namespace opfleet::jobs {
namespace {

using Keys = std::vector<std::string>;

const JobDef& find_job(const std::vector<JobDef>& jobs, std::string_view name) {
  for (const auto& j : jobs) {
    if (j.name == name) return j;
  }
  throw std::runtime_error("no built-in job " + std::string(name));
}

SleepParams sleep_of(const JobDef& job, std::string_view key) {
  const OpDef* op = find_op(job, key);
  if (op == nullptr) throw std::runtime_error("no op " + std::string(key));
  return std::get<SleepParams>(op->params);
}

TEST(BuiltinJobs, AllFiveAreValidWithDefaults) {
  const auto jobs = builtin_jobs();
  Keys names;
  for (const auto& j : jobs) {
    names.push_back(j.name);
    EXPECT_TRUE(validate(j)) << j.name << ": " << validate(j).error().message;
    EXPECT_EQ(j.schedule, "*/10 * * * *") << j.name;
    EXPECT_EQ(j.max_attempts, 3) << j.name;
    EXPECT_FALSE(j.description.empty()) << j.name;
    for (const auto& op : j.ops) EXPECT_EQ(op.kind(), OpKind::kSleep) << j.name << "/" << op.key;
  }
  EXPECT_EQ(names, (Keys{"fast_job", "slow_job", "mixed_job", "parallel_fast_job",
                         "sequential_slow_job"}));
}

TEST(BuiltinJobs, DurationsMatchTheSeed) {
  EXPECT_EQ(kFastOp, (SleepParams{20, 10}));    // 20±10 s
  EXPECT_EQ(kSlowOp, (SleepParams{300, 120}));  // 5±2 min
  EXPECT_EQ(kFinishOp, (SleepParams{1, 0.5}));
}

TEST(BuiltinJobs, FastAndSlowJobs) {
  const auto jobs = builtin_jobs();
  const JobDef& fast = find_job(jobs, "fast_job");
  EXPECT_EQ(topological_order(fast).value(), (Keys{"fast", "process"}));
  EXPECT_EQ(find_op(fast, "process")->depends_on, (Keys{"fast"}));
  EXPECT_EQ(sleep_of(fast, "fast"), kFastOp);
  EXPECT_EQ(sleep_of(fast, "process"), kFinishOp);

  const JobDef& slow = find_job(jobs, "slow_job");
  EXPECT_EQ(topological_order(slow).value(), (Keys{"slow", "process"}));
  EXPECT_EQ(find_op(slow, "process")->depends_on, (Keys{"slow"}));
  EXPECT_EQ(sleep_of(slow, "slow"), kSlowOp);
}

TEST(BuiltinJobs, MixedJobJoinsFastAndSlow) {
  const auto jobs = builtin_jobs();
  const JobDef& mixed = find_job(jobs, "mixed_job");
  EXPECT_EQ(roots(mixed), (Keys{"fast", "slow"}));
  EXPECT_EQ(find_op(mixed, "aggregate")->depends_on, (Keys{"fast", "slow"}));
  EXPECT_EQ(downstream(mixed, "fast"), (Keys{"aggregate"}));
  EXPECT_EQ(downstream(mixed, "slow"), (Keys{"aggregate"}));
  EXPECT_EQ(sleep_of(mixed, "fast"), kFastOp);
  EXPECT_EQ(sleep_of(mixed, "slow"), kSlowOp);
}

TEST(BuiltinJobs, ParallelFastJobHasThreeIndependentChains) {
  const auto jobs = builtin_jobs();
  const JobDef& par = find_job(jobs, "parallel_fast_job");
  EXPECT_EQ(par.ops.size(), 6u);
  EXPECT_EQ(roots(par), (Keys{"fast_1", "fast_2", "fast_3"}));
  for (const char* i : {"1", "2", "3"}) {
    const std::string fast = std::string("fast_") + i;
    const std::string process = std::string("process_") + i;
    EXPECT_EQ(sleep_of(par, fast), kFastOp);
    EXPECT_EQ(downstream(par, fast), (Keys{process}));
    EXPECT_EQ(find_op(par, process)->depends_on, (Keys{fast}));
    EXPECT_TRUE(downstream(par, process).empty());
  }
}

TEST(BuiltinJobs, SequentialSlowJobIsAChain) {
  const auto jobs = builtin_jobs();
  const JobDef& seq = find_job(jobs, "sequential_slow_job");
  EXPECT_EQ(roots(seq), (Keys{"slow_1"}));
  EXPECT_EQ(topological_order(seq).value(), (Keys{"slow_1", "slow_2", "aggregate"}));
  EXPECT_EQ(find_op(seq, "slow_2")->depends_on, (Keys{"slow_1"}));
  EXPECT_EQ(find_op(seq, "aggregate")->depends_on, (Keys{"slow_2"}));
  EXPECT_EQ(sleep_of(seq, "slow_1"), kSlowOp);
  EXPECT_EQ(sleep_of(seq, "slow_2"), kSlowOp);
}

TEST(BuiltinJobs, RoundTripThroughTheFileFormat) {
  for (const auto& job : builtin_jobs()) {
    auto back = parse_job(to_json(job));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(to_json(*back), to_json(job));
  }
}

}  // namespace
}  // namespace opfleet::jobs
