// Five-field cron expressions, evaluated in UTC (docs/scheduler.md):
//
//   minute hour day-of-month month day-of-week
//   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
//
// Each field is a comma-separated list of items; an item is `*`, a value `5`, a range
// `1-5`, or either with a step: `*/15`, `10-40/10`, `5/20` (= 5-max/20). Months and
// days of the week also take their English three-letter names, in any case (`jan`,
// `MON-FRI`). `?` is accepted for `*` in the two day fields (Quartz spelling).
//
// Day-of-month and day-of-week follow the rule of Vixie cron and cronie: when both
// fields are restricted (neither starts with `*` or `?`), a day matches if EITHER
// matches ("0 0 1,15 * MON": the 1st, the 15th and every Monday); otherwise both must
// match, which amounts to the restricted one alone. A field written `*/2` therefore
// counts as unrestricted for this rule, as in those implementations.
//
// Why UTC: a schedule evaluated in a local time zone skips or repeats ticks at daylight
// saving changes, and two schedulers on hosts with different zones would disagree on
// the tick times that make the once-only guard (schedule_ticks' primary key) work.
#pragma once

#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace opfleet::scheduler {

using SysSeconds = std::chrono::sys_seconds;

class CronExpr {
 public:
  // Errors (kInvalid) name the field and the offending text:
  //   "day-of-week: '8' is out of range 0-7 (in '0 0 * * 8')".
  // An expression that can never fire ("0 0 30 2 *") is rejected too, so next_after()
  // and last_at_or_before() always find a tick.
  static Result<CronExpr> parse(std::string_view text);

  // The first tick strictly after `t` (ticks are whole minutes).
  SysSeconds next_after(SysSeconds t) const;
  // The last tick at or before `t`.
  SysSeconds last_at_or_before(SysSeconds t) const;
  // Whether `t` (truncated to its minute) is a tick.
  bool matches(SysSeconds t) const;

  const std::string& text() const { return text_; }

 private:
  CronExpr() = default;
  bool day_matches(std::chrono::sys_days day) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bits 1-31
  std::bitset<13> months_;         // bits 1-12
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace opfleet::scheduler
