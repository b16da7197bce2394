// Op durations. A sleep (or fail) op with mean m and jitter j runs for a duration drawn
// from the continuous uniform distribution on [m - j, m + j] seconds, multiplied by the
// run's time scale: with --time-scale 0.01 the seed's 20±10 s fast op takes 0.1-0.3 s.
// Uniform (not normal) because "20±10 s" in the seed system means a hard range: no
// sample falls outside it, and jitter <= mean keeps every sample >= 0.
#pragma once

#include <chrono>
#include <random>

#include "common/result.h"
#include "jobs/job.h"

namespace opfleet::jobs {

// A time scale is finite and >= 0 (0 makes every op instantaneous: dispatch benchmarks).
Status check_time_scale(double time_scale);

// One duration. `p` must have passed validate_params and `time_scale` check_time_scale
// (a violation is a bug upstream and aborts).
std::chrono::nanoseconds sample_duration(const SleepParams& p, double time_scale,
                                         std::mt19937_64& rng);

}  // namespace opfleet::jobs
