// The exactly-once audit (`opfleet audit`, docs/audit.md): checks the guarantee of
// docs/claim-protocol.md from PostgreSQL alone, for the runs a filter selects.
//
//   duplicates  a key with more than one completed execution: more than one attempts row
//               with outcome 'succeeded', or a step whose status disagrees with its
//               succeeded attempts (succeeded with none, or not succeeded with one)
//   overlaps    two executions of one key whose [started_at, ended_at) intervals
//               intersect (an open execution runs until now)
//   lost        a step that is not terminal (succeeded, failed, skipped) although its run
//               finished, or its run is older than lost_after
//   stuck       a run still queued/running whose steps are all terminal, or that is older
//               than stuck_after with no execution started or ended for stuck_after
//
// Every query runs in one REPEATABLE READ transaction: the counts and the checks see one
// snapshot, and now() is the same instant for all of them. The audit only reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/connection.h"

namespace opfleet::audit {

struct AuditFilter {
  // Runs submitted at or after this time (a PostgreSQL timestamptz literal such as
  // "2030-01-02T03:04:05Z"); empty: no lower bound. A bad literal is kInvalid.
  std::string since;
  // Runs submitted within this long before the audit (combines with `since`).
  std::optional<std::chrono::milliseconds> within;
  // Runs carrying every one of these tags.
  std::map<std::string, std::string> tags;
  std::chrono::milliseconds lost_after{std::chrono::hours(1)};
  std::chrono::milliseconds stuck_after{std::chrono::hours(1)};
  // Violations listed per kind; the counts stay exact beyond it.
  int list_limit = 1000;
};

// Times below are ISO 8601 UTC with microseconds ("2030-01-02T03:04:05.123456Z"); empty
// for NULL.
struct Execution {
  std::int64_t id = 0;  // attempts.id
  int attempt = 0;
  std::string worker_id;
  std::string started_at;
  std::string ended_at;
  std::string outcome;
};

struct Duplicate {
  std::string key;  // run_id#step_key
  std::string run_id;
  std::string step_key;
  std::string step_status;
  int succeeded_executions = 0;
  // "completed_twice", "succeeded_without_execution", "execution_not_recorded_on_step"
  std::string reason;
};

struct Overlap {
  std::string key;
  std::string run_id;
  std::string step_key;
  Execution first;
  Execution second;
};

struct Lost {
  std::string key;
  std::string run_id;
  std::string step_key;
  std::string step_status;
  std::string run_status;
  std::string run_submitted_at;
  std::string reason;  // "run_finished", "run_older_than_lost_after"
};

struct Stuck {
  std::string run_id;
  std::string job;
  std::string status;
  std::string submitted_at;
  std::string last_activity;  // newest execution start or end; empty: none
  std::string reason;         // "all_steps_terminal", "no_activity"
};

struct ViolationCounts {
  std::int64_t duplicates = 0;
  std::int64_t overlaps = 0;
  std::int64_t lost = 0;
  std::int64_t stuck = 0;
  std::int64_t total() const { return duplicates + overlaps + lost + stuck; }
};

struct AuditReport {
  std::string checked_at;  // the database clock
  AuditFilter filter;
  std::int64_t runs = 0;
  std::int64_t steps = 0;
  std::int64_t executions = 0;  // attempts rows: execution starts
  std::vector<Duplicate> duplicates;
  std::vector<Overlap> overlaps;
  std::vector<Lost> lost;
  std::vector<Stuck> stuck;
  ViolationCounts counts;  // exact, even where the lists stop at list_limit

  bool ok() const { return counts.total() == 0; }
};

Result<AuditReport> run_audit(store::Connection& db, const AuditFilter& filter);

// The stable machine form (docs/audit.md):
//   {"runs":N,"steps":N,"executions":N,
//    "violations":{"duplicates":[...],"overlaps":[...],"lost":[...],"stuck":[...]},
//    "counts":{...},"truncated":bool,"checked_at":"...","filter":{...},"ok":bool}
nlohmann::json to_json(const AuditReport& report);
// The summary and a table per kind of violation, for people.
std::string format_report(const AuditReport& report);

}  // namespace opfleet::audit
