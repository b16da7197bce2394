#include "loadsim/probe.h"

#include <map>

#include <fmt/format.h>

#include "store/params.h"

namespace opfleet::loadsim {
namespace {

constexpr std::string_view kStepCounts = R"SQL(
SELECT count(*) FILTER (WHERE s.status = 'queued') AS waiting,
       count(*) FILTER (WHERE s.status = 'running') AS running,
       count(*) FILTER (WHERE s.status IN ('succeeded', 'failed', 'skipped')) AS done,
       (SELECT count(*) FROM runs WHERE tags @> $1::jsonb) AS runs,
       (SELECT count(*) FROM runs WHERE tags @> $1::jsonb
          AND status IN ('succeeded', 'failed', 'cancelled')) AS runs_finished
  FROM steps s JOIN runs r USING (run_id)
 WHERE r.tags @> $1::jsonb)SQL";

// A step is ready when its run is created (a root) or when its last dependency finished
// (the completing transaction releases it): the start of its queue wait.
constexpr std::string_view kOps = R"SQL(
WITH r AS (SELECT run_id, job, submitted_at FROM runs WHERE tags @> $1::jsonb),
     a AS (SELECT a.run_id, a.step_key, count(*) AS executions,
                  min(a.started_at) AS first_start,
                  max(a.started_at) FILTER (WHERE a.outcome = 'succeeded') AS ok_start,
                  max(a.ended_at) FILTER (WHERE a.outcome = 'succeeded') AS ok_end
             FROM attempts a JOIN r USING (run_id)
            GROUP BY a.run_id, a.step_key)
SELECT s.run_id, s.step_key, r.job, s.status,
       extract(epoch FROM coalesce(
         (SELECT max(d.finished_at) FROM steps d
           WHERE d.run_id = s.run_id AND d.step_key = ANY (s.depends_on)),
         r.submitted_at))::float8 AS ready,
       extract(epoch FROM a.first_start)::float8 AS first_start,
       extract(epoch FROM a.ok_start)::float8 AS ok_start,
       extract(epoch FROM a.ok_end)::float8 AS ok_end,
       extract(epoch FROM s.finished_at)::float8 AS finished,
       coalesce(a.executions, 0) AS executions
  FROM steps s JOIN r USING (run_id) LEFT JOIN a USING (run_id, step_key)
 ORDER BY s.run_id, s.step_key)SQL";

constexpr std::string_view kRuns = R"SQL(
SELECT run_id, job, status, extract(epoch FROM submitted_at)::float8 AS submitted,
       extract(epoch FROM finished_at)::float8 AS finished
  FROM runs WHERE tags @> $1::jsonb ORDER BY submitted_at, run_id)SQL";

constexpr std::string_view kScalerFaults = R"SQL(
SELECT source, kind, action, coalesce(reason, '') AS reason, details->>'fault' AS fault,
       extract(epoch FROM at)::float8 AS at
  FROM scaling_events
 WHERE at >= to_timestamp($1::float8) AND kind IN ('fault', 'error') AND details ? 'fault'
   AND action IN ('kill_worker', 'drain', 'restore', 'partition', 'heal')
 ORDER BY at, id)SQL";

}  // namespace

Result<StepCounts> step_counts(store::Connection& db, const std::string& tags) {
  OPFLEET_TRY(auto rows, db.exec(kStepCounts, {store::param::text(tags)}, store::Idempotent::kYes));
  const auto row = rows.front();
  StepCounts c;
  OPFLEET_TRY(c.waiting, row.get<std::int64_t>("waiting"));
  OPFLEET_TRY(c.running, row.get<std::int64_t>("running"));
  OPFLEET_TRY(c.done, row.get<std::int64_t>("done"));
  OPFLEET_TRY(c.runs, row.get<std::int64_t>("runs"));
  OPFLEET_TRY(c.runs_finished, row.get<std::int64_t>("runs_finished"));
  return c;
}

Result<QueueDepth> queue_depth(sqs::Client& sqs, const std::string& queue_url) {
  static const std::vector<std::string> kNames = {"ApproximateNumberOfMessages",
                                                  "ApproximateNumberOfMessagesNotVisible"};
  OPFLEET_TRY(auto attrs, sqs.get_queue_attributes(queue_url, kNames));
  QueueDepth d;
  try {
    d.visible = std::stoll(attrs.at(kNames[0]));
    d.in_flight = std::stoll(attrs.at(kNames[1]));
  } catch (const std::exception&) {
    return fail(
        Error::invalid("GetQueueAttributes: the message counts are missing or not numbers"));
  }
  return d;
}

Result<std::int64_t> heartbeat_workers(store::Connection& db) {
  OPFLEET_TRY(auto rows, db.exec("SELECT coalesce(sum(workers), 0)::bigint FROM supervisors "
                                 "WHERE heartbeat_at > now() - interval '15 seconds'",
                                 {}, store::Idempotent::kYes));
  return rows.front().get<std::int64_t>(0);
}

Result<DbNow> db_now(store::Connection& db) {
  OPFLEET_TRY(auto rows, db.exec("SELECT extract(epoch FROM now())::float8, "
                                 "to_char(now() AT TIME ZONE 'UTC', "
                                 "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                                 {}, store::Idempotent::kYes));
  DbNow n;
  OPFLEET_TRY(n.epoch, rows.front().get<double>(0));
  OPFLEET_TRY(n.iso, rows.front().get<std::string>(1));
  return n;
}

Result<std::vector<RunTiming>> load_runs(store::Connection& db, const std::string& tags) {
  OPFLEET_TRY(auto rows, db.exec(kRuns, {store::param::text(tags)}, store::Idempotent::kYes));
  std::vector<RunTiming> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (const auto& row : rows) {
    RunTiming t;
    OPFLEET_TRY(t.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(t.job, row.get<std::string>("job"));
    OPFLEET_TRY(t.status, row.get<std::string>("status"));
    OPFLEET_TRY(t.submitted, row.get<double>("submitted"));
    OPFLEET_TRY(t.finished, row.get<std::optional<double>>("finished"));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<OpTiming>> load_ops(store::Connection& db, const std::string& tags) {
  OPFLEET_TRY(auto rows, db.exec(kOps, {store::param::text(tags)}, store::Idempotent::kYes));
  std::vector<OpTiming> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (const auto& row : rows) {
    OpTiming t;
    OPFLEET_TRY(t.run_id, row.get<std::string>("run_id"));
    OPFLEET_TRY(t.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(t.job, row.get<std::string>("job"));
    OPFLEET_TRY(t.status, row.get<std::string>("status"));
    OPFLEET_TRY(t.ready, row.get<std::optional<double>>("ready"));
    OPFLEET_TRY(t.first_start, row.get<std::optional<double>>("first_start"));
    OPFLEET_TRY(t.ok_start, row.get<std::optional<double>>("ok_start"));
    OPFLEET_TRY(t.ok_end, row.get<std::optional<double>>("ok_end"));
    OPFLEET_TRY(t.finished, row.get<std::optional<double>>("finished"));
    OPFLEET_TRY(t.executions, row.get<int>("executions"));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<FaultRecord>> load_scaler_faults(store::Connection& db, double since_epoch) {
  OPFLEET_TRY(auto rows, db.exec(kScalerFaults, {store::param::float64(since_epoch)},
                                 store::Idempotent::kYes));
  std::vector<FaultRecord> out;
  // The open window of each (source, kind), waiting for its heal/restore.
  std::map<std::pair<std::string, std::string>, std::size_t> open;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto source, row.get<std::string>("source"));
    OPFLEET_TRY(auto kind, row.get<std::string>("kind"));
    OPFLEET_TRY(auto action, row.get<std::string>("action"));
    OPFLEET_TRY(auto reason, row.get<std::string>("reason"));
    OPFLEET_TRY(auto fault, row.get<std::string>("fault"));
    OPFLEET_TRY(auto at, row.get<double>("at"));
    const double t = at - since_epoch;
    const auto key = std::make_pair(source, fault);
    if (action == "heal" || action == "restore") {
      if (auto it = open.find(key); it != open.end()) {
        out[it->second].end_s = t;
        if (kind == "error") {
          out[it->second].ok = false;
          out[it->second].detail += "; ending it failed: " + reason;
        }
        open.erase(it);
      }
      continue;
    }
    FaultRecord f;
    f.source = source;
    f.kind = fault;
    f.at_s = t;
    f.ok = kind == "fault";
    f.detail = reason;
    const bool window = f.ok && (action == "partition" || action == "drain");
    out.push_back(std::move(f));
    if (window) open[key] = out.size() - 1;
  }
  return out;
}

}  // namespace opfleet::loadsim
