#include "tests/audit/audit_plant.h"

#include <stdexcept>

namespace opfleet::testing {

namespace param = store::param;

namespace {

store::Rows must(Result<store::Rows> r) {
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(*r);
}

}  // namespace

std::string Planter::run(const std::string& status, const std::string& age,
                         const std::string& tags_json) {
  auto rows =
      must(db_.exec("INSERT INTO runs (job, status, tags, submitted_at, finished_at) "
                    "VALUES ('planted', $1, $2::jsonb, now() - $3::interval, "
                    "        CASE WHEN $1 IN ('succeeded', 'failed', 'cancelled') THEN now() END) "
                    "RETURNING run_id",
                    {param::text(status), param::text(tags_json), param::text(age)}));
  return *rows.front().get<std::string>("run_id");
}

void Planter::step(const std::string& run_id, const std::string& key, const std::string& status) {
  must(
      db_.exec("INSERT INTO steps (run_id, step_key, op, status, lease_owner, lease_expires_at) "
               "VALUES ($1, $2, '{\"kind\":\"sleep\",\"mean_s\":1,\"jitter_s\":0}', $3, "
               "        CASE WHEN $3 = 'running' THEN 'w-planted' END, "
               "        CASE WHEN $3 = 'running' THEN now() + interval '1 minute' END)",
               {param::text(run_id), param::text(key), param::text(status)}));
}

void Planter::attempt(const std::string& run_id, const std::string& key, int number,
                      const std::string& outcome, const std::string& started_ago,
                      const std::string& ended_ago) {
  must(db_.exec(
      "INSERT INTO attempts (run_id, step_key, attempt, fencing_token, worker_id, host, pid, "
      "                      started_at, ended_at, outcome) "
      "VALUES ($1, $2, $3::int, $3::int, 'w' || $3, 'host', 1000 + $3::int, "
      "        now() - $4::interval, now() - nullif($5, '')::interval, $6)",
      {param::text(run_id), param::text(key), param::int64(number), param::text(started_ago),
       param::text(ended_ago), param::text(outcome)}));
}

std::string Planter::clean_run(const std::string& tags_json, const std::string& age) {
  const std::string id = run("succeeded", age, tags_json);
  step(id, "extract", "succeeded");
  step(id, "load", "succeeded");
  attempt(id, "extract", 1, "crashed", "50 seconds", "40 seconds");
  attempt(id, "extract", 2, "succeeded", "40 seconds", "30 seconds");
  attempt(id, "load", 1, "succeeded", "30 seconds", "20 seconds");
  return id;
}

}  // namespace opfleet::testing
