#include "jobs/builtin.h"

#include <string>
#include <utility>

namespace opfleet::jobs {

namespace {

OpDef sleep_op(std::string key, SleepParams p, std::vector<std::string> depends_on = {}) {
  return OpDef{std::move(key), std::move(depends_on), p};
}

JobDef job(std::string name, std::string description, std::vector<OpDef> ops) {
  JobDef j;
  j.name = std::move(name);
  j.description = std::move(description);
  j.ops = std::move(ops);
  return j;
}

}  // namespace

std::vector<JobDef> builtin_jobs() {
  std::vector<JobDef> jobs;
  jobs.push_back(job("fast_job", "a fast op (20±10 s), then a short processing op",
                     {sleep_op("fast", kFastOp), sleep_op("process", kFinishOp, {"fast"})}));
  jobs.push_back(job("slow_job", "a slow op (5±2 min), then a short processing op",
                     {sleep_op("slow", kSlowOp), sleep_op("process", kFinishOp, {"slow"})}));
  jobs.push_back(job("mixed_job", "a fast and a slow op in parallel, then an aggregation",
                     {sleep_op("fast", kFastOp), sleep_op("slow", kSlowOp),
                      sleep_op("aggregate", kFinishOp, {"fast", "slow"})}));
  std::vector<OpDef> chains;
  for (int i = 1; i <= 3; ++i) {
    const std::string fast = "fast_" + std::to_string(i);
    chains.push_back(sleep_op(fast, kFastOp));
    chains.push_back(sleep_op("process_" + std::to_string(i), kFinishOp, {fast}));
  }
  jobs.push_back(
      job("parallel_fast_job", "three independent fast -> process chains", std::move(chains)));
  jobs.push_back(job("sequential_slow_job", "two slow ops one after the other, then an aggregation",
                     {sleep_op("slow_1", kSlowOp), sleep_op("slow_2", kSlowOp, {"slow_1"}),
                      sleep_op("aggregate", kFinishOp, {"slow_2"})}));
  return jobs;
}

}  // namespace opfleet::jobs
