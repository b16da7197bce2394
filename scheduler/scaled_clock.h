// The scheduler's clock, and UTC time stamps as text.
//
// With a time scale X the scheduler runs on a clock of its own that advances 1/X times
// as fast as the wall clock. The two clocks agree at one instant, the anchor A:
//
//   schedule time  C(w) = A + (w - A) / X
//   wall time      W(c) = A + (c - A) * X
//
// A is the time the scheduler started unless --time-anchor gives it. At X = 0.01 a
// `*/10 * * * *` schedule, ticking every 600 s of schedule time, ticks every 6 s of wall
// time. At X = 1 both clocks are the wall clock, whatever the anchor. Schedulers that
// share X and A share one timeline exactly, wherever and whenever they start (and a
// restarted one resumes that timeline).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace opfleet::scheduler {

using SysMicros = std::chrono::sys_time<std::chrono::microseconds>;

struct ScaledClock {
  SysMicros anchor{};
  double scale = 1.0;  // > 0

  SysMicros to_schedule(SysMicros wall) const;
  SysMicros to_wall(SysMicros schedule) const;
  // A span of schedule time as wall time (and back).
  std::chrono::microseconds wall_span(std::chrono::microseconds schedule_span) const;
  std::chrono::microseconds schedule_span(std::chrono::microseconds wall_span) const;
};

SysMicros wall_now();

// "2030-01-02T03:04:05Z" (seconds precision; fractions are truncated).
std::string format_utc(SysMicros t);
std::string format_utc(std::chrono::sys_seconds t);

// "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" followed by "Z" or "+00:00" ('T' may be a space). Only
// UTC is accepted: an offset other than zero is an error rather than a silent shift.
Result<SysMicros> parse_utc(std::string_view text);

}  // namespace opfleet::scheduler
