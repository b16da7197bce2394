#include "worker/submit.h"

#include <fmt/format.h>

#include "jobs/graph.h"
#include "store/transaction.h"
#include "worker/step_sender.h"

namespace opfleet::worker {

namespace param = store::param;

Result<std::pair<std::string, std::string>> parse_tag(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return fail(Error::invalid(fmt::format("tag '{}' is not of the form key=value", text)));
  }
  std::string key(text.substr(0, eq));
  std::string value(text.substr(eq + 1));
  if (!jobs::valid_key(key)) {
    return fail(Error::invalid(fmt::format("tag key '{}' must match [A-Za-z0-9_.-]{{1,64}}", key)));
  }
  if (value.size() > 256) {
    return fail(Error::invalid(fmt::format("tag '{}' has a value over 256 characters", key)));
  }
  return std::pair{std::move(key), std::move(value)};
}

Result<CreatedRun> create_run(store::Connection& db, const jobs::JobDef& job, const Tags& tags,
                              double time_scale, const std::string& run_id) {
  OPFLEET_TRY(auto tx, db.begin());
  OPFLEET_TRY(auto created, create_run(tx, job, tags, time_scale, run_id));
  OPFLEET_TRY_STATUS(tx.commit());
  return created;
}

Result<CreatedRun> create_run(store::Transaction& tx, const jobs::JobDef& job, const Tags& tags,
                              double time_scale, const std::string& run_id) {
  if (!(time_scale > 0) || time_scale > 1000) {
    return fail(Error::invalid(fmt::format("time scale {} is not in (0, 1000]", time_scale)));
  }
  nlohmann::json tag_json = nlohmann::json::object();
  for (const auto& [k, v] : tags) tag_json[k] = v;
  const auto root_keys = jobs::roots(job);

  std::vector<std::string> keys;
  std::vector<std::string> ops;
  std::vector<std::string> deps;
  std::vector<std::string> statuses;
  for (const auto& op : job.ops) {
    keys.push_back(op.key);
    ops.push_back(jobs::op_spec(op).dump());
    // text[] literal inside a text[] element: encode the dependency list as JSON.
    deps.push_back(nlohmann::json(op.depends_on).dump());
    statuses.push_back(op.depends_on.empty() ? "queued" : "pending");
  }

  OPFLEET_TRY(auto run_rows,
              tx.exec("INSERT INTO runs (run_id, job, tags, time_scale) "
                      "VALUES (coalesce(nullif($1, ''), gen_random_uuid()::text), $2, $3::jsonb, "
                      "$4::float8) RETURNING run_id",
                      {param::text(run_id), param::text(job.name), param::json(tag_json),
                       param::float64(time_scale)}));
  CreatedRun created;
  OPFLEET_TRY(created.run_id, run_rows.front().get<std::string>("run_id"));
  OPFLEET_TRY_STATUS(tx.exec(
      "INSERT INTO steps (run_id, step_key, op, depends_on, status, max_attempts, queued_at) "
      "SELECT $1, k, o::jsonb, ARRAY(SELECT jsonb_array_elements_text(d::jsonb)), s, $6::int, "
      "       CASE WHEN s = 'queued' THEN now() END "
      "  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, o, d, s)",
      {param::text(created.run_id), param::text_array(keys), param::text_array(ops),
       param::text_array(deps), param::text_array(statuses), param::int64(job.max_attempts)}));

  for (const auto& key : root_keys) {
    const auto* op = jobs::find_op(job, key);
    QueuedStep q;
    q.run_id = created.run_id;
    q.step_key = key;
    q.key = fmt::format("{}#{}", created.run_id, key);
    q.attempt = 0;
    q.job = job.name;
    q.op = jobs::op_spec(*op);
    q.time_scale = time_scale;
    created.roots.push_back(std::move(q));
  }
  return created;
}

int send_roots(store::Connection& db, sqs::Client& client, const std::string& queue_url,
               const std::vector<QueuedStep>& roots) {
  auto sent = send_steps(client, queue_url, is_fifo_queue(queue_url), roots);
  Ledger ledger(db);
  // Sent but not recorded: the sweeper may send again; FIFO dedup or the claim drops it.
  (void)ledger.mark_sent(sent);
  return static_cast<int>(sent.size());
}

Result<SubmitResult> submit_run(store::Connection& db, sqs::Client& client,
                                const std::string& queue_url, const jobs::JobDef& job,
                                const Tags& tags, double time_scale) {
  OPFLEET_TRY(auto created, create_run(db, job, tags, time_scale));
  SubmitResult out;
  out.run_id = created.run_id;
  out.roots = static_cast<int>(created.roots.size());
  out.sent = send_roots(db, client, queue_url, created.roots);
  return out;
}

}  // namespace opfleet::worker
