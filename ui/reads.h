// What the dashboard reads from PostgreSQL. Each read returns the JSON document of its
// API route (docs/ui.md), and the HTML pages render those same documents, so the pages
// show nothing the API does not. Every statement is a read (Idempotent::kYes: re-run on a
// new session after a lost connection), so a read-only database role is enough.
//
// Times are ISO 8601 UTC with milliseconds ("2030-01-02T03:04:05.123Z"), "" for none;
// ages and durations are seconds (float), null for none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "jobs/registry.h"
#include "store/connection.h"

namespace opfleet::ui {

struct RunsFilter {
  std::string job;                          // "" = any
  std::string status;                       // "" = any
  std::map<std::string, std::string> tags;  // runs carrying all of these
  int page = 1;                             // 1-based
  int limit = 50;
};

// {"runs": [...worker::to_json...], "total": N, "page": P, "limit": L, "pages": K,
//  "counts": {"failed": n, ...} (all runs by status, unfiltered)}
Result<nlohmann::json> read_runs(store::Connection& db, const RunsFilter& filter);

// worker::to_json of the run (steps and attempts), plus "levels" (the DAG depth of each
// step). kNotFound for an unknown id.
Result<nlohmann::json> read_run(store::Connection& db, const std::string& run_id);

// {"now": T, "supervisors": [...], "in_flight": [...]} — supervisors with their heartbeat
// age (and "stale" when older than stale_after_s), in-flight ops (running steps) with
// their age and the host, pid and worker of their current attempt.
Result<nlohmann::json> read_fleet(store::Connection& db, double stale_after_s);

// {"now": T, "live": {queued, unsent, running, oldest_queued_age_s}, "window_minutes": M,
//  "samples": [{at, queue, visible, in_flight, delayed, oldest_queued_age_s}...]}
Result<nlohmann::json> read_queue(store::Connection& db, int window_minutes);

// {"now": T, "window_minutes": M, "events": [{id, at, source, kind, action, from_count,
//  to_count, reason, details}...]} oldest first.
Result<nlohmann::json> read_scaling(store::Connection& db, int window_minutes);

// {"now": T, "schedules": [{name, job, cron, next_tick, last_tick, last_run_id,
//  last_run_status, ticks}...]}: the registry's scheduled jobs, and any other schedule
// name found in schedule_ticks (a time-scaled schedule, a job from another jobs file).
Result<nlohmann::json> read_schedules(store::Connection& db, const jobs::Registry& registry);

// DAG depth of each step: 0 for roots, else 1 + the deepest dependency. Steps in a cycle
// or depending on an unknown key (impossible for validated jobs) get depth 0.
std::map<std::string, int> step_levels(const nlohmann::json& steps);

}  // namespace opfleet::ui
