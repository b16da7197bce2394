#include "worker/run_view.h"

#include <fmt/format.h>

namespace opfleet::worker {

namespace param = store::param;

namespace {

constexpr const char* kRunColumns = R"SQL(
  r.run_id, r.job, r.status, r.tags, r.time_scale, r.error,
  to_char(r.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS submitted_at,
  to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
  to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finished_at,
  extract(epoch FROM (r.finished_at - r.submitted_at))::float8 AS duration_s,
  (SELECT count(*) FROM steps s WHERE s.run_id = r.run_id)::int AS steps_total,
  (SELECT count(*) FROM steps s WHERE s.run_id = r.run_id
      AND s.status IN ('succeeded', 'failed', 'skipped'))::int AS steps_done
)SQL";

std::string opt_text(const store::Row& row, const char* col) {
  auto v = row.get<std::optional<std::string>>(col);
  return v && *v ? **v : std::string();
}

Result<RunView> run_from_row(const store::Row& row) {
  RunView r;
  OPFLEET_TRY(r.run_id, row.get<std::string>("run_id"));
  OPFLEET_TRY(r.job, row.get<std::string>("job"));
  OPFLEET_TRY(r.status, row.get<std::string>("status"));
  OPFLEET_TRY(r.tags, row.get<nlohmann::json>("tags"));
  OPFLEET_TRY(r.time_scale, row.get<double>("time_scale"));
  r.error = opt_text(row, "error");
  r.submitted_at = opt_text(row, "submitted_at");
  r.started_at = opt_text(row, "started_at");
  r.finished_at = opt_text(row, "finished_at");
  OPFLEET_TRY(r.duration_s, row.get<std::optional<double>>("duration_s"));
  OPFLEET_TRY(r.steps_total, row.get<int>("steps_total"));
  OPFLEET_TRY(r.steps_done, row.get<int>("steps_done"));
  return r;
}

std::string duration(std::optional<double> s) {
  if (!s) return "-";
  if (*s < 1) return fmt::format("{:.0f}ms", *s * 1000);
  if (*s < 120) return fmt::format("{:.1f}s", *s);
  return fmt::format("{:.1f}m", *s / 60);
}

}  // namespace

Result<RunView> load_run(store::Connection& db, const std::string& run_id) {
  OPFLEET_TRY(auto rows, db.exec(fmt::format("SELECT {} FROM runs r WHERE r.run_id = $1", kRunColumns),
                                 {param::text(run_id)}, store::Idempotent::kYes));
  if (rows.empty()) return fail(Error::not_found(fmt::format("no run '{}'", run_id)));
  OPFLEET_TRY(auto run, run_from_row(rows.front()));
  OPFLEET_TRY(auto steps, db.exec(R"SQL(
SELECT step_key, status, attempt, max_attempts, depends_on, error, result,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
  to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finished_at,
  extract(epoch FROM (finished_at - started_at))::float8 AS duration_s
FROM steps WHERE run_id = $1 ORDER BY coalesce(queued_at, 'infinity'), step_key)SQL",
                                  {param::text(run_id)}, store::Idempotent::kYes));
  for (const auto& row : steps) {
    StepView s;
    OPFLEET_TRY(s.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(s.status, row.get<std::string>("status"));
    OPFLEET_TRY(s.attempt, row.get<int>("attempt"));
    OPFLEET_TRY(s.max_attempts, row.get<int>("max_attempts"));
    OPFLEET_TRY(s.depends_on, row.get<std::vector<std::string>>("depends_on"));
    s.error = opt_text(row, "error");
    OPFLEET_TRY(auto result, row.get<std::optional<nlohmann::json>>("result"));
    if (result) s.result = *result;
    s.started_at = opt_text(row, "started_at");
    s.finished_at = opt_text(row, "finished_at");
    OPFLEET_TRY(s.duration_s, row.get<std::optional<double>>("duration_s"));
    run.steps.push_back(std::move(s));
  }
  OPFLEET_TRY(auto attempts, db.exec(R"SQL(
SELECT step_key, attempt, fencing_token, worker_id, host, pid, outcome, error,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
  to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ended_at
FROM attempts WHERE run_id = $1 ORDER BY id)SQL",
                                     {param::text(run_id)}, store::Idempotent::kYes));
  for (const auto& row : attempts) {
    AttemptView a;
    OPFLEET_TRY(a.step_key, row.get<std::string>("step_key"));
    OPFLEET_TRY(a.attempt, row.get<int>("attempt"));
    OPFLEET_TRY(a.fencing_token, row.get<std::int64_t>("fencing_token"));
    OPFLEET_TRY(a.worker_id, row.get<std::string>("worker_id"));
    OPFLEET_TRY(a.host, row.get<std::string>("host"));
    OPFLEET_TRY(a.pid, row.get<int>("pid"));
    OPFLEET_TRY(a.outcome, row.get<std::string>("outcome"));
    a.error = opt_text(row, "error");
    a.started_at = opt_text(row, "started_at");
    a.ended_at = opt_text(row, "ended_at");
    run.attempts.push_back(std::move(a));
  }
  return run;
}

Result<std::vector<RunView>> list_runs(store::Connection& db, const std::string& status,
                                       const std::string& job, int limit) {
  OPFLEET_TRY(auto rows,
              db.exec(fmt::format("SELECT {} FROM runs r WHERE ($1 = '' OR r.status = $1) "
                                  "AND ($2 = '' OR r.job = $2) "
                                  "ORDER BY r.submitted_at DESC LIMIT $3",
                                  kRunColumns),
                      {param::text(status), param::text(job), param::int64(limit)},
                      store::Idempotent::kYes));
  std::vector<RunView> out;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto r, run_from_row(row));
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json to_json(const RunView& r) {
  nlohmann::json j = {{"run_id", r.run_id},        {"job", r.job},
                      {"status", r.status},        {"tags", r.tags},
                      {"time_scale", r.time_scale}, {"submitted_at", r.submitted_at},
                      {"started_at", r.started_at}, {"finished_at", r.finished_at},
                      {"error", r.error},          {"steps_total", r.steps_total},
                      {"steps_done", r.steps_done}};
  j["duration_s"] = r.duration_s ? nlohmann::json(*r.duration_s) : nlohmann::json(nullptr);
  if (!r.steps.empty()) {
    auto& steps = j["steps"] = nlohmann::json::array();
    for (const auto& s : r.steps) {
      steps.push_back({{"step_key", s.step_key}, {"status", s.status}, {"attempt", s.attempt},
                       {"max_attempts", s.max_attempts}, {"depends_on", s.depends_on},
                       {"started_at", s.started_at}, {"finished_at", s.finished_at},
                       {"duration_s", s.duration_s ? nlohmann::json(*s.duration_s) : nullptr},
                       {"error", s.error}, {"result", s.result}});
    }
    auto& attempts = j["attempts"] = nlohmann::json::array();
    for (const auto& a : r.attempts) {
      attempts.push_back({{"step_key", a.step_key}, {"attempt", a.attempt},
                          {"fencing_token", a.fencing_token}, {"worker_id", a.worker_id},
                          {"host", a.host}, {"pid", a.pid}, {"started_at", a.started_at},
                          {"ended_at", a.ended_at}, {"outcome", a.outcome}, {"error", a.error}});
    }
  }
  return j;
}

std::string format_runs(const std::vector<RunView>& runs) {
  std::string out = fmt::format("{:<36}  {:<20}  {:<9}  {:>5}  {:>8}  {}\n", "RUN", "JOB", "STATUS",
                                "STEPS", "TIME", "SUBMITTED");
  for (const auto& r : runs) {
    out += fmt::format("{:<36}  {:<20}  {:<9}  {:>2}/{:<2}  {:>8}  {}\n", r.run_id, r.job, r.status,
                       r.steps_done, r.steps_total, duration(r.duration_s), r.submitted_at);
  }
  if (runs.empty()) out += "(no runs)\n";
  return out;
}

std::string format_run(const RunView& r) {
  std::string out = fmt::format("run {}  job {}  status {}  time {}\n", r.run_id, r.job, r.status,
                                duration(r.duration_s));
  if (!r.tags.empty()) out += fmt::format("tags {}\n", r.tags.dump());
  if (!r.error.empty()) out += fmt::format("error {}\n", r.error);
  out += fmt::format("\n{:<24}  {:<9}  {:>7}  {:>8}  {}\n", "STEP", "STATUS", "ATTEMPT", "TIME",
                     "AFTER");
  for (const auto& s : r.steps) {
    out += fmt::format("{:<24}  {:<9}  {:>3}/{:<3}  {:>8}  {}\n", s.step_key, s.status, s.attempt,
                       s.max_attempts, duration(s.duration_s), fmt::join(s.depends_on, ","));
    if (!s.error.empty()) out += fmt::format("    error: {}\n", s.error);
  }
  out += fmt::format("\n{:<24}  {:>3}  {:<13}  {:<28}  {}\n", "ATTEMPT", "#", "OUTCOME", "WORKER",
                     "STARTED");
  for (const auto& a : r.attempts) {
    out += fmt::format("{:<24}  {:>3}  {:<13}  {:<28}  {}\n", a.step_key, a.attempt, a.outcome,
                       a.worker_id, a.started_at);
  }
  return out;
}

}  // namespace opfleet::worker
