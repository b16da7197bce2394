// The built-in jobs, matching the seed system's:
//   fast_job             fast -> process
//   slow_job             slow -> process
//   mixed_job            fast, slow -> aggregate
//   parallel_fast_job    fast_1 -> process_1, fast_2 -> process_2, fast_3 -> process_3
//   sequential_slow_job  slow_1 -> slow_2 -> aggregate
// "fast" ops sleep 20±10 s and "slow" ops 5±2 min, as in the seed; "process" and
// "aggregate" stand for the short downstream work and sleep 1±0.5 s. All run every 10
// minutes by default (the seed's steady load) and allow 3 attempts per step.
#pragma once

#include <vector>

#include "jobs/job.h"

namespace opfleet::jobs {

inline constexpr SleepParams kFastOp{20, 10};
inline constexpr SleepParams kSlowOp{300, 120};
inline constexpr SleepParams kFinishOp{1, 0.5};

std::vector<JobDef> builtin_jobs();

}  // namespace opfleet::jobs
