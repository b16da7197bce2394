// Which due ticks a scheduler pass submits: the catch-up policy (docs/scheduler.md).
//
// A tick is due when it lies after the schedule's cursor (the newest tick already dealt
// with: recorded by any scheduler, or skipped by this one) and at or before now. A due
// tick is ON TIME when now is within the misfire grace of it; older due ticks were MISSED
// (no scheduler was running, or the database could not be reached, when they came due):
//   latest  on-time ticks, plus the most recent missed tick (default);
//   all     on-time and missed ticks alike;
//   none    on-time ticks only.
// A pass submits at most `limit` ticks (the newest); the rest count as skipped.
// Pure functions of their inputs, tested by table (tests/scheduler/catch_up_test.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "scheduler/cron.h"
#include "scheduler/scaled_clock.h"

namespace opfleet::scheduler {

enum class CatchUp { kLatest, kAll, kNone };

const char* to_string(CatchUp policy);
Result<CatchUp> parse_catch_up(std::string_view text);

inline constexpr std::size_t kDefaultCatchUpLimit = 100;

struct TickPlan {
  std::vector<SysSeconds> fire;  // oldest first
  std::vector<bool> missed;      // per entry of `fire`: submitted as a missed tick
  std::int64_t skipped = 0;      // missed ticks left out (counted up to kSkipCountCap)
  bool skipped_capped = false;   // more than kSkipCountCap were left out
  std::optional<SysSeconds> newest_skipped;
};

// Counting skipped ticks walks them one by one; past this many the count stops (a
// minutely schedule down for a year would otherwise cost half a million steps).
inline constexpr std::int64_t kSkipCountCap = 10000;

// `after`: the cursor (exclusive); `now`: schedule time; `grace`: the misfire grace in
// schedule time.
TickPlan plan_ticks(const CronExpr& cron, SysMicros after, SysMicros now,
                    std::chrono::microseconds grace, CatchUp policy,
                    std::size_t limit = kDefaultCatchUpLimit);

}  // namespace opfleet::scheduler
