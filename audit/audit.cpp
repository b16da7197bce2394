#include "audit/audit.h"

#include <fmt/format.h>

#include "store/transaction.h"

namespace opfleet::audit {

namespace param = store::param;

namespace {

// The runs under audit; $1 since, $2 within (seconds), $3 tags. Every query starts with
// it, so each check sees exactly the same runs.
constexpr std::string_view kRunsCte = R"SQL(
WITH r AS (
  SELECT run_id, job, status, submitted_at FROM runs
   WHERE ($1::timestamptz IS NULL OR submitted_at >= $1::timestamptz)
     AND ($2::float8 IS NULL OR submitted_at >= now() - make_interval(secs => $2::float8))
     AND tags @> $3::jsonb
))SQL";

// Terminal step statuses: the step will not change any more.
constexpr std::string_view kTerminalSteps = "('succeeded', 'failed', 'skipped')";
constexpr std::string_view kFinishedRuns = "('succeeded', 'failed', 'cancelled')";

std::string iso(std::string_view expr) {
  return fmt::format(R"(to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))", expr);
}

std::string counts_sql() {
  return fmt::format(R"SQL({}
SELECT (SELECT count(*) FROM r) AS runs,
       (SELECT count(*) FROM steps s JOIN r ON r.run_id = s.run_id) AS steps,
       (SELECT count(*) FROM attempts a JOIN r ON r.run_id = a.run_id) AS executions,
       {} AS checked_at
)SQL",
                     kRunsCte, iso("now()"));
}

// $4 limit.
std::string duplicates_sql() {
  return fmt::format(R"SQL({}, c AS (
  SELECT s.run_id, s.step_key, s.idempotency_key AS key, s.status,
         (SELECT count(*) FROM attempts a
           WHERE a.run_id = s.run_id AND a.step_key = s.step_key
             AND a.outcome = 'succeeded') AS succeeded
    FROM steps s JOIN r ON r.run_id = s.run_id
)
SELECT run_id, step_key, key, status, succeeded,
       CASE WHEN succeeded > 1 THEN 'completed_twice'
            WHEN status = 'succeeded' THEN 'succeeded_without_execution'
            ELSE 'execution_not_recorded_on_step' END AS reason,
       count(*) OVER () AS total
  FROM c
 WHERE succeeded > 1 OR (status = 'succeeded') <> (succeeded = 1)
 ORDER BY key
 LIMIT $4
)SQL",
                     kRunsCte);
}

// $4 limit. Half-open intervals: the claim that takes over an expired lease closes the
// old attempt and opens the new one at the same now(), which is a hand-over, not an
// overlap.
std::string overlaps_sql() {
  return fmt::format(R"SQL({}
SELECT a1.run_id, a1.step_key, a1.run_id || '#' || a1.step_key AS key,
       a1.id AS id1, a1.attempt AS attempt1, a1.worker_id AS worker1,
       {} AS started1, {} AS ended1, a1.outcome AS outcome1,
       a2.id AS id2, a2.attempt AS attempt2, a2.worker_id AS worker2,
       {} AS started2, {} AS ended2, a2.outcome AS outcome2,
       count(*) OVER () AS total
  FROM attempts a1
  JOIN r ON r.run_id = a1.run_id
  JOIN attempts a2 ON a2.run_id = a1.run_id AND a2.step_key = a1.step_key AND a2.id > a1.id
 WHERE a1.started_at < coalesce(a2.ended_at, now())
   AND a2.started_at < coalesce(a1.ended_at, now())
 ORDER BY key, a1.id, a2.id
 LIMIT $4
)SQL",
                     kRunsCte, iso("a1.started_at"), iso("a1.ended_at"), iso("a2.started_at"),
                     iso("a2.ended_at"));
}

// $4 limit, $5 lost_after (seconds).
std::string lost_sql() {
  return fmt::format(R"SQL({}
SELECT s.run_id, s.step_key, s.idempotency_key AS key, s.status AS step_status,
       r.status AS run_status, {} AS submitted_at,
       CASE WHEN r.status IN {} THEN 'run_finished'
            ELSE 'run_older_than_lost_after' END AS reason,
       count(*) OVER () AS total
  FROM steps s JOIN r ON r.run_id = s.run_id
 WHERE s.status NOT IN {}
   AND (r.status IN {} OR r.submitted_at < now() - make_interval(secs => $5::float8))
 ORDER BY key
 LIMIT $4
)SQL",
                     kRunsCte, iso("r.submitted_at"), kFinishedRuns, kTerminalSteps, kFinishedRuns);
}

// $4 limit, $5 stuck_after (seconds).
std::string stuck_sql() {
  return fmt::format(R"SQL({}, x AS (
  SELECT r.run_id, r.job, r.status, r.submitted_at,
         (SELECT max(greatest(a.started_at, a.ended_at)) FROM attempts a
           WHERE a.run_id = r.run_id) AS last_activity,
         NOT EXISTS (SELECT 1 FROM steps s
                      WHERE s.run_id = r.run_id AND s.status NOT IN {}) AS all_terminal
    FROM r
   WHERE r.status IN ('queued', 'running')
)
SELECT run_id, job, status, {} AS submitted, {} AS last_activity,
       CASE WHEN all_terminal THEN 'all_steps_terminal' ELSE 'no_activity' END AS reason,
       count(*) OVER () AS total
  FROM x
 WHERE all_terminal
    OR (submitted_at < now() - make_interval(secs => $5::float8)
        AND coalesce(last_activity, '-infinity') < now() - make_interval(secs => $5::float8))
 ORDER BY submitted_at, run_id
 LIMIT $4
)SQL",
                     kRunsCte, kTerminalSteps, iso("submitted_at"), iso("last_activity"));
}

double seconds(std::chrono::milliseconds ms) {
  return static_cast<double>(ms.count()) / 1000.0;
}

Result<std::string> text_or_empty(const store::Row& row, std::string_view col) {
  OPFLEET_TRY(auto v, row.get<std::optional<std::string>>(col));
  return v.value_or("");
}

Result<Execution> execution(const store::Row& row, char n) {
  Execution e;
  const std::string s(1, n);
  OPFLEET_TRY(e.id, row.get<std::int64_t>("id" + s));
  OPFLEET_TRY(e.attempt, row.get<int>("attempt" + s));
  OPFLEET_TRY(e.worker_id, row.get<std::string>("worker" + s));
  OPFLEET_TRY(e.started_at, text_or_empty(row, "started" + s));
  OPFLEET_TRY(e.ended_at, text_or_empty(row, "ended" + s));
  OPFLEET_TRY(e.outcome, row.get<std::string>("outcome" + s));
  return e;
}

// The exact number of matches: every row carries it (count(*) OVER ()); none means 0.
Result<std::int64_t> total_of(const store::Rows& rows) {
  if (rows.empty()) return std::int64_t{0};
  return rows.front().get<std::int64_t>("total");
}

}  // namespace

Result<AuditReport> run_audit(store::Connection& db, const AuditFilter& filter) {
  if (filter.list_limit < 0) return fail(Error::invalid("list limit must not be negative"));
  nlohmann::json tags = nlohmann::json::object();
  for (const auto& [k, v] : filter.tags) tags[k] = v;
  const store::Params base = {
      filter.since.empty() ? param::null() : param::text(filter.since),
      filter.within ? param::float64(seconds(*filter.within)) : param::null(), param::json(tags)};
  auto with = [&base](std::initializer_list<store::Param> extra) {
    store::Params p = base;
    p.insert(p.end(), extra.begin(), extra.end());
    return p;
  };
  const auto limit = param::int64(filter.list_limit);

  AuditReport report;
  report.filter = filter;
  // One snapshot for every check, and one now().
  OPFLEET_TRY(auto tx, db.begin(store::Isolation::kRepeatableRead));
  // A --since without a zone means UTC, like every time opfleet prints.
  OPFLEET_TRY_STATUS(tx.exec("SET LOCAL TIME ZONE 'UTC'"));

  OPFLEET_TRY(auto counts, tx.exec(counts_sql(), base));
  {
    const auto row = counts.front();
    OPFLEET_TRY(report.runs, row.get<std::int64_t>("runs"));
    OPFLEET_TRY(report.steps, row.get<std::int64_t>("steps"));
    OPFLEET_TRY(report.executions, row.get<std::int64_t>("executions"));
    OPFLEET_TRY(report.checked_at, row.get<std::string>("checked_at"));
  }

  OPFLEET_TRY(auto dups, tx.exec(duplicates_sql(), with({limit})));
  OPFLEET_TRY(report.counts.duplicates, total_of(dups));
  for (const auto& row : dups) {
    Duplicate d;
    OPFLEET_TRY(d.key, row.get<std::string>("key"));
    OPFLEET_TRY(d.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(d.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(d.step_status, row.get<std::string>("status"));
    OPFLEET_TRY(d.succeeded_executions, row.get<int>("succeeded"));
    OPFLEET_TRY(d.reason, row.get<std::string>("reason"));
    report.duplicates.push_back(std::move(d));
  }

  OPFLEET_TRY(auto overlaps, tx.exec(overlaps_sql(), with({limit})));
  OPFLEET_TRY(report.counts.overlaps, total_of(overlaps));
  for (const auto& row : overlaps) {
    Overlap o;
    OPFLEET_TRY(o.key, row.get<std::string>("key"));
    OPFLEET_TRY(o.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(o.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(o.first, execution(row, '1'));
    OPFLEET_TRY(o.second, execution(row, '2'));
    report.overlaps.push_back(std::move(o));
  }

  OPFLEET_TRY(auto lost,
              tx.exec(lost_sql(), with({limit, param::float64(seconds(filter.lost_after))})));
  OPFLEET_TRY(report.counts.lost, total_of(lost));
  for (const auto& row : lost) {
    Lost l;
    OPFLEET_TRY(l.key, row.get<std::string>("key"));
    OPFLEET_TRY(l.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(l.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(l.step_status, row.get<std::string>("step_status"));
    OPFLEET_TRY(l.run_status, row.get<std::string>("run_status"));
    OPFLEET_TRY(l.run_submitted_at, row.get<std::string>("submitted_at"));
    OPFLEET_TRY(l.reason, row.get<std::string>("reason"));
    report.lost.push_back(std::move(l));
  }

  OPFLEET_TRY(auto stuck,
              tx.exec(stuck_sql(), with({limit, param::float64(seconds(filter.stuck_after))})));
  OPFLEET_TRY(report.counts.stuck, total_of(stuck));
  for (const auto& row : stuck) {
    Stuck s;
    OPFLEET_TRY(s.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(s.job, row.get<std::string>("job"));
    OPFLEET_TRY(s.status, row.get<std::string>("status"));
    OPFLEET_TRY(s.submitted_at, row.get<std::string>("submitted"));
    OPFLEET_TRY(s.last_activity, text_or_empty(row, "last_activity"));
    OPFLEET_TRY(s.reason, row.get<std::string>("reason"));
    report.stuck.push_back(std::move(s));
  }

  OPFLEET_TRY_STATUS(tx.rollback());  // nothing was written
  return report;
}

}  // namespace opfleet::audit
