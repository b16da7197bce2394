// The schedule_ticks table: the once-only guard of the scheduler.
//
// record_tick() runs ONE transaction:
//   INSERT INTO schedule_ticks ... ON CONFLICT (schedule_name, tick_at) DO NOTHING RETURNING
//   -- no row back: another scheduler recorded this tick; roll back, submit nothing
//   INSERT INTO runs / steps ... (worker::create_run in the same transaction)
//   COMMIT
// Two schedulers racing on one tick serialize on the primary key: the second INSERT waits
// for the first transaction and then finds the row (DO NOTHING), or inserts it if the
// first rolled back. So exactly one run exists per recorded tick, and a tick is recorded
// only together with its run.
//
// Re-running record_tick after a failure is always safe, even when the COMMIT's outcome is
// unknown (connection lost during COMMIT): if it had committed, the retry finds the tick
// recorded and does nothing. The roots of that run are then left unsent, which the
// workers' sweeper repairs (worker/ledger.h, sweep).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "jobs/job.h"
#include "scheduler/cron.h"
#include "store/connection.h"
#include "worker/submit.h"

namespace opfleet::scheduler {

// Tags every scheduled run carries (besides the scheduler's --tag ones).
inline constexpr const char* kScheduleTag = "schedule";
inline constexpr const char* kTickTag = "tick_at";

// The newest recorded tick of each of `schedules` (those without any are absent).
Result<std::map<std::string, SysSeconds>> last_ticks(store::Connection& db,
                                                     const std::vector<std::string>& schedules);

struct RecordedTick {
  bool inserted = false;   // false: already recorded by someone else; nothing was created
  worker::CreatedRun run;  // when inserted: the new run and its roots (not yet sent)
};

Result<RecordedTick> record_tick(store::Connection& db, const std::string& schedule,
                                 SysSeconds tick_at, const jobs::JobDef& job,
                                 const worker::Tags& tags, double time_scale);

}  // namespace opfleet::scheduler
