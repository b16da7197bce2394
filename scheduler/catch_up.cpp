#include "scheduler/catch_up.h"

#include <algorithm>

#include <fmt/format.h>

namespace opfleet::scheduler {

const char* to_string(CatchUp policy) {
  switch (policy) {
    case CatchUp::kLatest:
      return "latest";
    case CatchUp::kAll:
      return "all";
    case CatchUp::kNone:
      return "none";
  }
  return "?";
}

Result<CatchUp> parse_catch_up(std::string_view text) {
  if (text == "latest") return CatchUp::kLatest;
  if (text == "all") return CatchUp::kAll;
  if (text == "none") return CatchUp::kNone;
  return fail(
      Error::invalid(fmt::format("catch-up policy '{}' is not one of latest, all, none", text)));
}

TickPlan plan_ticks(const CronExpr& cron, SysMicros after, SysMicros now,
                    std::chrono::microseconds grace, CatchUp policy, std::size_t limit) {
  TickPlan plan;
  if (now <= after) return plan;
  // Newest first, so the limit keeps the most recent ticks and `latest` sees its tick first.
  bool took_missed = false;
  for (SysSeconds t = cron.last_at_or_before(std::chrono::floor<std::chrono::seconds>(now));
       SysMicros(t) > after; t = cron.last_at_or_before(t - std::chrono::seconds(1))) {
    const bool on_time = now - SysMicros(t) <= grace;
    bool take = plan.fire.size() < limit;
    if (take && !on_time) {
      take = policy == CatchUp::kAll || (policy == CatchUp::kLatest && !took_missed);
      took_missed = took_missed || take;
    }
    if (take) {
      plan.fire.push_back(t);
      plan.missed.push_back(!on_time);
      continue;
    }
    if (!plan.newest_skipped) plan.newest_skipped = t;
    if (++plan.skipped >= kSkipCountCap) {
      // Stop counting; whether anything older exists no longer changes the plan.
      plan.skipped_capped = SysMicros(cron.last_at_or_before(t - std::chrono::seconds(1))) > after;
      break;
    }
  }
  std::reverse(plan.fire.begin(), plan.fire.end());
  std::reverse(plan.missed.begin(), plan.missed.end());
  return plan;
}

}  // namespace opfleet::scheduler
