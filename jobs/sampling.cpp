#include "jobs/sampling.h"

#include <cmath>

#include <fmt/format.h>

#include "common/check.h"

namespace opfleet::jobs {

Status check_time_scale(double time_scale) {
  if (!std::isfinite(time_scale) || time_scale < 0) {
    return fail(
        Error::invalid(fmt::format("time scale must be a finite number >= 0, not {}", time_scale)));
  }
  return ok();
}

std::chrono::nanoseconds sample_duration(const SleepParams& p, double time_scale,
                                         std::mt19937_64& rng) {
  OPFLEET_CHECK(std::isfinite(time_scale) && time_scale >= 0, "invalid time scale");
  OPFLEET_CHECK(std::isfinite(p.mean_s) && std::isfinite(p.jitter_s) && p.jitter_s >= 0 &&
                    p.jitter_s <= p.mean_s && p.mean_s + p.jitter_s <= kMaxDurationS,
                "unvalidated sleep parameters");
  double seconds = p.mean_s;
  if (p.jitter_s > 0) {
    // uniform_real_distribution draws from [a, b); the closed/open end is immaterial.
    std::uniform_real_distribution<double> dist(p.mean_s - p.jitter_s, p.mean_s + p.jitter_s);
    seconds = dist(rng);
  }
  return std::chrono::nanoseconds(std::llround(seconds * time_scale * 1e9));
}

}  // namespace opfleet::jobs
