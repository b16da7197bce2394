#include "ui/reads.h"

#include <chrono>
#include <functional>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "scheduler/cron.h"
#include "worker/run_view.h"

namespace opfleet::ui {

namespace param = store::param;
using nlohmann::json;

namespace {

constexpr auto kYes = store::Idempotent::kYes;

// ISO 8601 UTC text of a timestamptz expression.
std::string iso(std::string_view expr, std::string_view as) {
  return fmt::format(R"(to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS {})",
                     expr, as);
}

std::string now_iso() {
  return iso("now()", "now");
}

// Every column of `row` as JSON: text, numbers, booleans and jsonb by their declared
// type (the SQL casts each column to what the API documents), NULL as null.
Result<json> row_json(const store::Row& row, const store::Rows& rows,
                      const std::set<std::string, std::less<>>& numbers,
                      const std::set<std::string, std::less<>>& documents) {
  json out = json::object();
  for (int c = 0; c < rows.column_count(); ++c) {
    const std::string name(rows.column_name(c));
    if (row.is_null(c)) {
      out[name] = numbers.count(name) != 0 || documents.count(name) != 0 ? json(nullptr) : json("");
    } else if (numbers.count(name) != 0) {
      OPFLEET_TRY(out[name], row.get<double>(c));
    } else if (documents.count(name) != 0) {
      OPFLEET_TRY(out[name], row.get<json>(c));
    } else {
      out[name] = std::string(row.text(c));
    }
  }
  return out;
}

Result<json> rows_json(const store::Rows& rows, const std::set<std::string, std::less<>>& numbers,
                       const std::set<std::string, std::less<>>& documents = {}) {
  json out = json::array();
  for (const auto& row : rows) {
    OPFLEET_TRY(auto j, row_json(row, rows, numbers, documents));
    out.push_back(std::move(j));
  }
  return out;
}

// Whole numbers stay integers in the API (a count of 3 is 3, not 3.0).
void integers(json& items, std::initializer_list<const char*> names) {
  for (auto& item : items) {
    for (const auto* n : names) {
      if (item.contains(n) && item[n].is_number()) item[n] = item[n].get<std::int64_t>();
    }
  }
}

}  // namespace

Result<json> read_runs(store::Connection& db, const RunsFilter& f) {
  json tags = json::object();
  for (const auto& [k, v] : f.tags) tags[k] = v;
  const std::string where =
      "($1 = '' OR r.job = $1) AND ($2 = '' OR r.status = $2) AND r.tags @> $3::jsonb";
  const store::Params filter = {param::text(f.job), param::text(f.status), param::json(tags)};
  OPFLEET_TRY(auto count, db.exec(fmt::format("SELECT count(*) AS n FROM runs r WHERE {}", where),
                                  filter, kYes));
  OPFLEET_TRY(const std::int64_t total, count.front().get<std::int64_t>("n"));
  store::Params page = filter;
  page.push_back(param::int64(f.limit));
  page.push_back(param::int64(static_cast<std::int64_t>(f.page - 1) * f.limit));
  // The run ids of the page, then each run through worker::run_view, so the API's run
  // objects are exactly those of `opfleet runs --json`.
  OPFLEET_TRY(auto ids, db.exec(fmt::format("SELECT r.run_id FROM runs r WHERE {} "
                                            "ORDER BY r.submitted_at DESC, r.run_id "
                                            "LIMIT $4 OFFSET $5",
                                            where),
                                page, kYes));
  json runs = json::array();
  for (const auto& row : ids) {
    OPFLEET_TRY(auto id, row.get<std::string>("run_id"));
    auto run = worker::load_run(db, id);
    if (!run && run.error().kind == ErrorKind::kNotFound) continue;  // deleted meanwhile
    if (!run) return fail(std::move(run).error());
    run->steps.clear();  // the list shows counts; the run page shows steps
    run->attempts.clear();
    runs.push_back(worker::to_json(*run));
  }
  OPFLEET_TRY(auto by_status,
              db.exec("SELECT status, count(*) AS n FROM runs GROUP BY status", {}, kYes));
  json counts = json::object();
  for (const auto& row : by_status) {
    OPFLEET_TRY(auto s, row.get<std::string>("status"));
    OPFLEET_TRY(counts[s], row.get<std::int64_t>("n"));
  }
  return json{{"runs", std::move(runs)},
              {"total", total},
              {"page", f.page},
              {"limit", f.limit},
              {"pages", std::max<std::int64_t>(1, (total + f.limit - 1) / f.limit)},
              {"counts", std::move(counts)}};
}

std::map<std::string, int> step_levels(const json& steps) {
  std::map<std::string, std::vector<std::string>> deps;
  for (const auto& s : steps) {
    deps[s.at("step_key").get<std::string>()] = s.at("depends_on").get<std::vector<std::string>>();
  }
  std::map<std::string, int> level;
  std::set<std::string> visiting;
  std::function<int(const std::string&)> depth = [&](const std::string& key) -> int {
    if (auto it = level.find(key); it != level.end()) return it->second;
    if (deps.count(key) == 0 || !visiting.insert(key).second) return 0;
    int d = 0;
    for (const auto& up : deps[key]) {
      if (deps.count(up) != 0) d = std::max(d, depth(up) + 1);
    }
    visiting.erase(key);
    level[key] = d;
    return d;
  };
  for (const auto& [key, unused] : deps) depth(key);
  return level;
}

Result<json> read_run(store::Connection& db, const std::string& run_id) {
  OPFLEET_TRY(auto run, worker::load_run(db, run_id));
  json j = worker::to_json(run);
  if (!j.contains("steps")) {  // to_json omits them for a run without steps
    j["steps"] = json::array();
    j["attempts"] = json::array();
  }
  j["levels"] = step_levels(j["steps"]);
  return j;
}

Result<json> read_fleet(store::Connection& db, double stale_after_s) {
  OPFLEET_TRY(auto sup, db.exec(fmt::format(R"SQL(
SELECT host, instance, pid, state, workers, busy_slots, total_slots, details, {}, {},
  extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age_s,
  to_jsonb(extract(epoch FROM now() - heartbeat_at) > $1) AS stale, {}
FROM supervisors ORDER BY host, instance)SQL",
                                            iso("started_at", "started_at"),
                                            iso("heartbeat_at", "heartbeat_at"), now_iso()),
                                {param::float64(stale_after_s)}, kYes));
  OPFLEET_TRY(auto supervisors,
              rows_json(sup, {"pid", "workers", "busy_slots", "total_slots", "heartbeat_age_s"},
                        {"details", "stale"}));
  integers(supervisors, {"pid", "workers", "busy_slots", "total_slots"});
  OPFLEET_TRY(auto ops, db.exec(fmt::format(R"SQL(
SELECT s.run_id, r.job, s.step_key, s.attempt, s.lease_owner, a.worker_id, a.host, a.pid, {},
  extract(epoch FROM now() - s.started_at)::float8 AS age_s,
  extract(epoch FROM s.lease_expires_at - now())::float8 AS lease_left_s
FROM steps s JOIN runs r USING (run_id)
LEFT JOIN LATERAL (SELECT worker_id, host, pid FROM attempts a
                   WHERE a.run_id = s.run_id AND a.step_key = s.step_key
                   ORDER BY a.id DESC LIMIT 1) a ON true
WHERE s.status = 'running' ORDER BY s.started_at LIMIT 500)SQL",
                                            iso("s.started_at", "started_at")),
                                {}, kYes));
  OPFLEET_TRY(auto in_flight, rows_json(ops, {"attempt", "pid", "age_s", "lease_left_s"}));
  integers(in_flight, {"attempt", "pid"});
  OPFLEET_TRY(auto now, db.exec("SELECT " + now_iso(), {}, kYes));
  return json{{"now", std::string(now.front().text(0))},
              {"stale_after_s", stale_after_s},
              {"supervisors", std::move(supervisors)},
              {"in_flight", std::move(in_flight)}};
}

Result<json> read_queue(store::Connection& db, int window_minutes) {
  OPFLEET_TRY(auto live, db.exec(fmt::format(R"SQL(
SELECT count(*) FILTER (WHERE status = 'queued')::float8 AS queued,
  count(*) FILTER (WHERE status = 'queued' AND sent_at IS NULL)::float8 AS unsent,
  count(*) FILTER (WHERE status = 'running')::float8 AS running,
  extract(epoch FROM now() - min(queued_at) FILTER (WHERE status = 'queued'))::float8
    AS oldest_queued_age_s, {}
FROM steps WHERE status IN ('queued', 'running'))SQL",
                                             now_iso()),
                                 {}, kYes));
  OPFLEET_TRY(auto live_json, row_json(live.front(), live,
                                       {"queued", "unsent", "running", "oldest_queued_age_s"}, {}));
  const std::string now = live_json["now"];
  live_json.erase("now");
  json one = json::array({live_json});
  integers(one, {"queued", "unsent", "running"});
  OPFLEET_TRY(auto samples, db.exec(fmt::format(R"SQL(
SELECT {}, queue, visible, in_flight, delayed, oldest_queued_age_s
FROM queue_samples WHERE at > now() - make_interval(mins => $1::int)
ORDER BY at LIMIT 20000)SQL",
                                                iso("at", "at")),
                                    {param::int64(window_minutes)}, kYes));
  OPFLEET_TRY(auto samples_json,
              rows_json(samples, {"visible", "in_flight", "delayed", "oldest_queued_age_s"}));
  integers(samples_json, {"visible", "in_flight", "delayed"});
  return json{{"now", now},
              {"live", one[0]},
              {"window_minutes", window_minutes},
              {"samples", std::move(samples_json)}};
}

Result<json> read_scaling(store::Connection& db, int window_minutes) {
  OPFLEET_TRY(auto rows, db.exec(fmt::format(R"SQL(
SELECT id, {}, source, kind, action, from_count, to_count, reason, details
FROM scaling_events WHERE at > now() - make_interval(mins => $1::int)
ORDER BY at, id LIMIT 5000)SQL",
                                             iso("at", "at")),
                                 {param::int64(window_minutes)}, kYes));
  OPFLEET_TRY(auto events, rows_json(rows, {"id", "from_count", "to_count"}, {"details"}));
  integers(events, {"id", "from_count", "to_count"});
  OPFLEET_TRY(auto now, db.exec("SELECT " + now_iso(), {}, kYes));
  return json{{"now", std::string(now.front().text(0))},
              {"window_minutes", window_minutes},
              {"events", std::move(events)}};
}

Result<json> read_schedules(store::Connection& db, const jobs::Registry& registry) {
  OPFLEET_TRY(auto rows, db.exec(fmt::format(R"SQL(
SELECT DISTINCT ON (t.schedule_name) t.schedule_name, t.job, t.run_id, {},
  r.status AS last_run_status,
  count(*) OVER (PARTITION BY t.schedule_name)::float8 AS ticks
FROM schedule_ticks t LEFT JOIN runs r USING (run_id)
ORDER BY t.schedule_name, t.tick_at DESC)SQL",
                                             iso("t.tick_at", "last_tick")),
                                 {}, kYes));
  std::map<std::string, json> by_name;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto name, row.get<std::string>("schedule_name"));
    OPFLEET_TRY(auto job, row.get<std::string>("job"));
    OPFLEET_TRY(auto run_id, row.get<std::optional<std::string>>("run_id"));
    OPFLEET_TRY(auto status, row.get<std::optional<std::string>>("last_run_status"));
    OPFLEET_TRY(auto ticks, row.get<double>("ticks"));
    by_name[name] = {{"name", name},
                     {"job", job},
                     {"cron", ""},
                     {"next_tick", ""},
                     {"last_tick", std::string(row.text(row.column("last_tick")))},
                     {"last_run_id", run_id.value_or("")},
                     {"last_run_status", status.value_or("")},
                     {"ticks", static_cast<std::int64_t>(ticks)}};
  }
  OPFLEET_TRY(auto now_rows,
              db.exec("SELECT extract(epoch FROM now())::bigint AS t, " + now_iso(), {}, kYes));
  OPFLEET_TRY(const std::int64_t now_s, now_rows.front().get<std::int64_t>("t"));
  // Next ticks from the database clock, as the scheduler (which runs on it) sees time.
  const scheduler::SysSeconds now{std::chrono::seconds(now_s)};
  for (const auto& job : registry.jobs()) {
    if (job.schedule.empty()) continue;
    json& entry = by_name[job.name];
    if (entry.is_null()) {
      entry = {{"name", job.name},  {"job", job.name},       {"last_tick", ""},
               {"last_run_id", ""}, {"last_run_status", ""}, {"ticks", 0}};
    }
    entry["cron"] = job.schedule;
    auto cron = scheduler::CronExpr::parse(job.schedule);
    entry["next_tick"] =
        cron ? fmt::format("{:%Y-%m-%dT%H:%M:%S}.000Z", cron->next_after(now)) : std::string();
  }
  json schedules = json::array();
  for (auto& [name, entry] : by_name) schedules.push_back(std::move(entry));
  return json{{"now", std::string(now_rows.front().text(1))}, {"schedules", std::move(schedules)}};
}

}  // namespace opfleet::ui
