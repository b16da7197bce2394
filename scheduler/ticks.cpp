#include "scheduler/ticks.h"

#include "scheduler/scaled_clock.h"
#include "store/transaction.h"

namespace opfleet::scheduler {

namespace param = store::param;

namespace {

// The run id is generated here so the tick row carries it from the start; the foreign key
// to runs is deferred, so the run inserted next in the same transaction satisfies it.
constexpr const char* kInsertTickSql = R"SQL(
INSERT INTO schedule_ticks (schedule_name, tick_at, job, run_id)
VALUES ($1, to_timestamp($2::bigint), $3, gen_random_uuid()::text)
ON CONFLICT (schedule_name, tick_at) DO NOTHING
RETURNING run_id
)SQL";

constexpr const char* kLastTicksSql = R"SQL(
SELECT schedule_name, extract(epoch FROM max(tick_at))::bigint AS last_tick
  FROM schedule_ticks
 WHERE schedule_name = ANY($1::text[])
 GROUP BY schedule_name
)SQL";

}  // namespace

Result<std::map<std::string, SysSeconds>> last_ticks(store::Connection& db,
                                                     const std::vector<std::string>& schedules) {
  OPFLEET_TRY(auto rows,
              db.exec(kLastTicksSql, {param::text_array(schedules)}, store::Idempotent::kYes));
  std::map<std::string, SysSeconds> out;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto name, row.get<std::string>("schedule_name"));
    OPFLEET_TRY(auto epoch, row.get<std::int64_t>("last_tick"));
    out.emplace(std::move(name), SysSeconds(std::chrono::seconds(epoch)));
  }
  return out;
}

Result<RecordedTick> record_tick(store::Connection& db, const std::string& schedule,
                                 SysSeconds tick_at, const jobs::JobDef& job,
                                 const worker::Tags& tags, double time_scale) {
  OPFLEET_TRY(auto tx, db.begin());
  OPFLEET_TRY(auto rows, tx.exec(kInsertTickSql, {param::text(schedule),
                                                  param::int64(tick_at.time_since_epoch().count()),
                                                  param::text(job.name)}));
  RecordedTick out;
  if (rows.empty()) {
    OPFLEET_TRY_STATUS(tx.rollback());
    return out;
  }
  OPFLEET_TRY(auto run_id, rows.front().get<std::string>("run_id"));
  worker::Tags run_tags = tags;
  run_tags[kScheduleTag] = schedule;
  run_tags[kTickTag] = format_utc(tick_at);
  OPFLEET_TRY(out.run, worker::create_run(tx, job, run_tags, time_scale, run_id));
  OPFLEET_TRY_STATUS(tx.commit());
  out.inserted = true;
  return out;
}

}  // namespace opfleet::scheduler
