#include "worker/ledger.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::worker {

namespace param = store::param;
using std::chrono::milliseconds;

namespace {

double seconds(milliseconds ms) {
  return static_cast<double>(ms.count()) / 1000.0;
}

// Step 2: take the step only if it is queued (and past its back-off) or running with an
// expired lease, and has attempts left. Bumps the fencing token and attempt, sets the lease
// from the database clock, closes the previous (dead) execution's attempt row, appends the
// new attempt row and marks the run running — one statement, so there is no window in
// which the step is taken but the attempt not logged. Concurrent claimers serialize on the
// row lock; the loser re-checks the WHERE clause against the winner's row and gets nothing.
constexpr const char* kClaimSql = R"SQL(
WITH target AS (
  SELECT run_id, step_key FROM steps
   WHERE idempotency_key = $1
     AND attempt < max_attempts
     AND ((status = 'queued' AND (not_before IS NULL OR not_before <= now()))
       OR (status = 'running' AND lease_expires_at < now()))
   FOR UPDATE
), claimed AS (
  UPDATE steps s
     SET status = 'running', attempt = s.attempt + 1, fencing_token = s.fencing_token + 1,
         lease_owner = $2, lease_expires_at = now() + make_interval(secs => $5::float8),
         started_at = now(), finished_at = NULL, not_before = NULL
    FROM target t
   WHERE s.run_id = t.run_id AND s.step_key = t.step_key
  RETURNING s.run_id, s.step_key, s.idempotency_key, s.attempt, s.max_attempts,
            s.fencing_token, s.op
), closed AS (
  UPDATE attempts a SET outcome = 'lease_expired', ended_at = now()
    FROM claimed c
   WHERE a.run_id = c.run_id AND a.step_key = c.step_key AND a.outcome = 'running'
  RETURNING a.id
), logged AS (
  INSERT INTO attempts (run_id, step_key, attempt, fencing_token, worker_id, host, pid, outcome)
  SELECT run_id, step_key, attempt, fencing_token, $2, $3, $4::int, 'running' FROM claimed
  RETURNING id
), run AS (
  UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, now())
    FROM claimed c
   WHERE r.run_id = c.run_id AND r.status = 'queued'
  RETURNING r.run_id
)
SELECT c.run_id, c.step_key, c.idempotency_key, c.attempt, c.max_attempts, c.fencing_token,
       c.op, r.job, r.time_scale
  FROM claimed c JOIN runs r ON r.run_id = c.run_id
)SQL";

constexpr const char* kInspectSql = R"SQL(
SELECT status, attempt, max_attempts,
       (lease_expires_at IS NOT NULL AND lease_expires_at > now()) AS lease_live,
       coalesce(extract(epoch FROM (lease_expires_at - now())), 0)::float8 AS lease_left_s,
       coalesce(extract(epoch FROM (not_before - now())), 0)::float8 AS backoff_left_s
  FROM steps WHERE idempotency_key = $1
)SQL";

// Step 3: one statement renews every lease this worker holds, each guarded by its token.
constexpr const char* kRenewSql = R"SQL(
UPDATE steps s SET lease_expires_at = now() + make_interval(secs => $3::float8)
  FROM unnest($1::text[], $2::bigint[]) AS h(key, token)
 WHERE s.idempotency_key = h.key AND s.fencing_token = h.token AND s.status = 'running'
RETURNING s.idempotency_key
)SQL";

constexpr const char* kLockRunSql = "SELECT status FROM runs WHERE run_id = $1 FOR UPDATE";

constexpr const char* kCompleteStepSql = R"SQL(
UPDATE steps SET status = 'succeeded', result = $3::jsonb, error = NULL, finished_at = now(),
                 lease_owner = NULL, lease_expires_at = NULL
 WHERE idempotency_key = $1 AND fencing_token = $2::bigint AND status = 'running'
RETURNING run_id, step_key
)SQL";

constexpr const char* kCloseAttemptSql = R"SQL(
UPDATE attempts SET outcome = $4, ended_at = now(), error = $5
 WHERE run_id = $1 AND step_key = $2 AND fencing_token = $3::bigint AND outcome = 'running'
)SQL";

// Pending steps whose dependencies have all succeeded become queued. The run row lock
// taken first serializes completions within a run, so two dependencies finishing at the
// same time cannot both miss each other's commit.
constexpr const char* kReleaseDownstreamSql = R"SQL(
UPDATE steps d SET status = 'queued', queued_at = now(), sent_at = NULL
 WHERE d.run_id = $1 AND d.status = 'pending' AND $2 = ANY(d.depends_on)
   AND NOT EXISTS (SELECT 1 FROM steps u
                    WHERE u.run_id = d.run_id AND u.step_key = ANY(d.depends_on)
                      AND u.status <> 'succeeded')
RETURNING d.run_id, d.step_key, d.idempotency_key, d.attempt, d.op
)SQL";

constexpr const char* kFinishRunIfDoneSql = R"SQL(
UPDATE runs SET status = 'succeeded', finished_at = now()
 WHERE run_id = $1 AND status IN ('queued', 'running')
   AND NOT EXISTS (SELECT 1 FROM steps WHERE run_id = $1 AND status <> 'succeeded')
RETURNING status
)SQL";

constexpr const char* kFailStepSql = R"SQL(
UPDATE steps
   SET status = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END,
       error = $3, lease_owner = NULL, lease_expires_at = NULL,
       not_before = CASE WHEN attempt < max_attempts
                         THEN now() + make_interval(secs => $4::float8) END,
       queued_at = CASE WHEN attempt < max_attempts THEN now() ELSE queued_at END,
       sent_at = CASE WHEN attempt < max_attempts THEN NULL ELSE sent_at END,
       finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE now() END
 WHERE idempotency_key = $1 AND fencing_token = $2::bigint AND status = 'running'
RETURNING run_id, step_key, idempotency_key, status, attempt, op
)SQL";

constexpr const char* kFailRunSql = R"SQL(
WITH skipped AS (
  -- Steps not started yet are skipped (a queued step's message is then deleted unrun by
  -- whoever receives it); steps already running on other branches finish normally.
  UPDATE steps SET status = 'skipped', finished_at = now()
   WHERE run_id = $1 AND status IN ('pending', 'queued')
  RETURNING step_key
)
UPDATE runs SET status = 'failed', finished_at = now(), error = $2
 WHERE run_id = $1 AND status IN ('queued', 'running')
RETURNING status
)SQL";

constexpr const char* kFailExhaustedSql = R"SQL(
UPDATE steps
   SET status = 'failed', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
       error = coalesce(error || '; ', '') ||
               format('gave up after %s attempts: the last execution did not finish', attempt)
 WHERE idempotency_key = $1 AND attempt >= max_attempts
   AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
RETURNING run_id, step_key, fencing_token, error
)SQL";

constexpr const char* kReleaseSql = R"SQL(
WITH released AS (
  -- The message still exists (it is handed back with visibility 0), so the step counts
  -- as sent even if the sender's mark_sent lost the race with the claim: the sweeper must
  -- not send a second message into the same FIFO group.
  UPDATE steps SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                   queued_at = now(), sent_at = coalesce(sent_at, now())
   WHERE idempotency_key = $1 AND fencing_token = $2::bigint AND status = 'running'
  RETURNING run_id, step_key
)
UPDATE attempts a SET outcome = $3, ended_at = now(), error = nullif($4, '')
  FROM released r
 WHERE a.run_id = r.run_id AND a.step_key = r.step_key AND a.fencing_token = $2::bigint
   AND a.outcome = 'running'
RETURNING a.id
)SQL";

constexpr const char* kMarkSentSql = R"SQL(
UPDATE steps SET sent_at = now()
 WHERE idempotency_key = ANY($1::text[]) AND sent_at IS NULL
)SQL";

constexpr const char* kSweepSelectSql = R"SQL(
SELECT s.run_id, s.step_key, s.idempotency_key, s.attempt, s.op, s.status, r.job, r.time_scale
  FROM steps s JOIN runs r ON r.run_id = s.run_id
 WHERE (s.status = 'queued' AND s.sent_at IS NULL
        AND s.queued_at < now() - make_interval(secs => $1::float8))
    OR (s.status = 'running' AND s.lease_expires_at < now() - make_interval(secs => $2::float8))
 ORDER BY s.queued_at
 LIMIT $3
   FOR UPDATE OF s SKIP LOCKED
)SQL";

constexpr const char* kRequeueStaleSql = R"SQL(
WITH requeued AS (
  UPDATE steps SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                   queued_at = now(), sent_at = NULL
   WHERE idempotency_key = $1 AND status = 'running' AND lease_expires_at < now()
  RETURNING run_id, step_key
)
UPDATE attempts a SET outcome = 'lease_expired', ended_at = now()
  FROM requeued q
 WHERE a.run_id = q.run_id AND a.step_key = q.step_key AND a.outcome = 'running'
)SQL";

Result<QueuedStep> queued_from_row(const store::Row& row, const std::string& job,
                                   double time_scale) {
  QueuedStep q;
  OPFLEET_TRY(q.run_id, row.get<std::string>("run_id"));
  OPFLEET_TRY(q.step_key, row.get<std::string>("step_key"));
  OPFLEET_TRY(q.key, row.get<std::string>("idempotency_key"));
  OPFLEET_TRY(q.attempt, row.get<int>("attempt"));
  OPFLEET_TRY(q.op, row.get<nlohmann::json>("op"));
  q.job = job;
  q.time_scale = time_scale;
  return q;
}

}  // namespace

const char* to_string(NotClaimed r) {
  switch (r) {
    case NotClaimed::kFinished:
      return "finished";
    case NotClaimed::kLeaseHeld:
      return "lease_held";
    case NotClaimed::kBackingOff:
      return "backing_off";
    case NotClaimed::kExhausted:
      return "exhausted";
    case NotClaimed::kNotReady:
      return "not_ready";
    case NotClaimed::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Ledger::Ledger(store::Connection& conn) : conn_(conn) {
  // Registration survives an unreachable server (prepared on the next session).
  for (auto [name, sql] :
       {std::pair{"ledger_claim", kClaimSql}, std::pair{"ledger_inspect", kInspectSql},
        std::pair{"ledger_renew", kRenewSql}, std::pair{"ledger_release", kReleaseSql},
        std::pair{"ledger_mark_sent", kMarkSentSql}}) {
    (void)conn_.prepare(name, sql);
  }
}

Result<ClaimOutcome> Ledger::claim(const std::string& key, const Executor& who,
                                   milliseconds lease) {
  OPFLEET_TRY(auto rows,
              conn_.exec_prepared("ledger_claim", {param::text(key), param::text(who.worker_id),
                                                   param::text(who.host), param::int64(who.pid),
                                                   param::float64(seconds(lease))}));
  if (rows.empty()) return inspect(key);
  const auto row = rows.front();
  ClaimedStep c;
  OPFLEET_TRY(c.run_id, row.get<std::string>("run_id"));
  OPFLEET_TRY(c.step_key, row.get<std::string>("step_key"));
  OPFLEET_TRY(c.key, row.get<std::string>("idempotency_key"));
  OPFLEET_TRY(c.attempt, row.get<int>("attempt"));
  OPFLEET_TRY(c.max_attempts, row.get<int>("max_attempts"));
  OPFLEET_TRY(c.fencing_token, row.get<std::int64_t>("fencing_token"));
  OPFLEET_TRY(c.op, row.get<nlohmann::json>("op"));
  OPFLEET_TRY(c.job, row.get<std::string>("job"));
  OPFLEET_TRY(c.time_scale, row.get<double>("time_scale"));
  ClaimOutcome out;
  out.claimed = std::move(c);
  return out;
}

Result<ClaimOutcome> Ledger::inspect(const std::string& key) {
  OPFLEET_TRY(auto rows,
              conn_.exec_prepared("ledger_inspect", {param::text(key)}, store::Idempotent::kYes));
  ClaimOutcome out;
  if (rows.empty()) {
    out.reason = NotClaimed::kUnknown;
    return out;
  }
  const auto row = rows.front();
  OPFLEET_TRY(auto status, row.get<std::string>("status"));
  OPFLEET_TRY(int attempt, row.get<int>("attempt"));
  OPFLEET_TRY(int max_attempts, row.get<int>("max_attempts"));
  OPFLEET_TRY(bool lease_live, row.get<bool>("lease_live"));
  OPFLEET_TRY(double lease_left, row.get<double>("lease_left_s"));
  OPFLEET_TRY(double backoff_left, row.get<double>("backoff_left_s"));
  auto ms = [](double s) {
    return milliseconds(static_cast<std::int64_t>(std::max(0.0, s) * 1000));
  };
  if (status == "succeeded" || status == "failed" || status == "skipped") {
    out.reason = NotClaimed::kFinished;
  } else if (status == "pending") {
    out.reason = NotClaimed::kNotReady;
  } else if (status == "running" && lease_live) {
    out.reason = NotClaimed::kLeaseHeld;
    out.wait = ms(lease_left);
  } else if (attempt >= max_attempts) {
    OPFLEET_TRY(bool failed_now, fail_exhausted(key));
    out.reason = failed_now ? NotClaimed::kExhausted : NotClaimed::kFinished;
  } else if (status == "queued" && backoff_left > 0) {
    out.reason = NotClaimed::kBackingOff;
    out.wait = ms(backoff_left);
  } else {
    // Raced: the row changed between the claim and this read. Treat as held elsewhere.
    out.reason = NotClaimed::kLeaseHeld;
  }
  return out;
}

Result<bool> Ledger::fail_exhausted(const std::string& key) {
  OPFLEET_TRY(auto tx, conn_.begin());
  OPFLEET_TRY(auto rows, tx.exec(kFailExhaustedSql, {param::text(key)}));
  if (rows.empty()) return false;
  const auto row = rows.front();
  OPFLEET_TRY(auto run_id, row.get<std::string>("run_id"));
  OPFLEET_TRY(auto step_key, row.get<std::string>("step_key"));
  OPFLEET_TRY(auto token, row.get<std::int64_t>("fencing_token"));
  OPFLEET_TRY(auto error, row.get<std::string>("error"));
  OPFLEET_TRY_STATUS(tx.exec(kLockRunSql, {param::text(run_id)}));
  OPFLEET_TRY_STATUS(
      tx.exec(kCloseAttemptSql, {param::text(run_id), param::text(step_key), param::int64(token),
                                 param::text("lease_expired"), param::null()}));
  OPFLEET_TRY_STATUS(
      tx.exec(kFailRunSql,
              {param::text(run_id), param::text(fmt::format("step {}: {}", step_key, error))}));
  OPFLEET_TRY_STATUS(tx.commit());
  log::warn("step_failed", {{"key", key}, {"reason", "attempts exhausted"}});
  return true;
}

Result<std::vector<std::string>> Ledger::renew(
    const std::vector<std::pair<std::string, std::int64_t>>& held, milliseconds lease) {
  std::vector<std::string> keys;
  std::vector<std::string> tokens;
  for (const auto& [k, t] : held) {
    keys.push_back(k);
    tokens.push_back(std::to_string(t));
  }
  if (keys.empty()) return keys;
  // Guarded by the fencing tokens, so running it twice changes nothing unsafe.
  OPFLEET_TRY(auto rows, conn_.exec_prepared("ledger_renew",
                                             {param::text_array(keys), param::text_array(tokens),
                                              param::float64(seconds(lease))},
                                             store::Idempotent::kYes));
  std::vector<std::string> still;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto k, row.get<std::string>(0));
    still.push_back(std::move(k));
  }
  return still;
}

Result<CompletionOutcome> Ledger::complete(const ClaimedStep& step, const nlohmann::json& result) {
  CompletionOutcome out;
  OPFLEET_TRY(auto tx, conn_.begin());
  OPFLEET_TRY_STATUS(tx.exec(kLockRunSql, {param::text(step.run_id)}));
  OPFLEET_TRY(auto done,
              tx.exec(kCompleteStepSql, {param::text(step.key), param::int64(step.fencing_token),
                                         param::json(result)}));
  if (done.empty()) return out;  // fenced: another execution owns the key now
  OPFLEET_TRY_STATUS(
      tx.exec(kCloseAttemptSql,
              {param::text(step.run_id), param::text(step.step_key),
               param::int64(step.fencing_token), param::text("succeeded"), param::null()}));
  OPFLEET_TRY(auto next, tx.exec(kReleaseDownstreamSql,
                                 {param::text(step.run_id), param::text(step.step_key)}));
  for (const auto& row : next) {
    OPFLEET_TRY(auto q, queued_from_row(row, step.job, step.time_scale));
    out.newly_queued.push_back(std::move(q));
  }
  OPFLEET_TRY(auto finished, tx.exec(kFinishRunIfDoneSql, {param::text(step.run_id)}));
  if (!finished.empty()) out.run_finished = "succeeded";
  OPFLEET_TRY_STATUS(tx.commit());
  out.applied = true;
  return out;
}

Result<FailureOutcome> Ledger::fail(const ClaimedStep& step, const std::string& error,
                                    const RetryPolicy& retry) {
  FailureOutcome out;
  // Back-off before the next attempt: base * 2^(attempt-1), capped.
  double backoff_s = seconds(retry.base) * std::pow(2.0, std::max(0, step.attempt - 1));
  backoff_s = std::min(backoff_s, seconds(retry.cap));
  OPFLEET_TRY(auto tx, conn_.begin());
  OPFLEET_TRY_STATUS(tx.exec(kLockRunSql, {param::text(step.run_id)}));
  OPFLEET_TRY(auto rows,
              tx.exec(kFailStepSql, {param::text(step.key), param::int64(step.fencing_token),
                                     param::text(error), param::float64(backoff_s)}));
  if (rows.empty()) return out;  // fenced
  const auto row = rows.front();
  OPFLEET_TRY(auto status, row.get<std::string>("status"));
  OPFLEET_TRY_STATUS(
      tx.exec(kCloseAttemptSql,
              {param::text(step.run_id), param::text(step.step_key),
               param::int64(step.fencing_token), param::text("failed"), param::text(error)}));
  if (status == "queued") {
    out.will_retry = true;
    out.retry_in = milliseconds(static_cast<std::int64_t>(backoff_s * 1000));
    OPFLEET_TRY(auto q, queued_from_row(row, step.job, step.time_scale));
    q.key = step.key;
    out.requeued = std::move(q);
  } else {
    OPFLEET_TRY(
        auto failed,
        tx.exec(kFailRunSql, {param::text(step.run_id),
                              param::text(fmt::format("step {} failed after {} attempts: {}",
                                                      step.step_key, step.attempt, error))}));
    out.run_failed = !failed.empty();
  }
  OPFLEET_TRY_STATUS(tx.commit());
  out.applied = true;
  return out;
}

Result<bool> Ledger::release(const std::string& key, std::int64_t fencing_token,
                             const std::string& outcome, const std::string& note) {
  OPFLEET_TRY(auto rows, conn_.exec_prepared("ledger_release",
                                             {param::text(key), param::int64(fencing_token),
                                              param::text(outcome), param::text(note)},
                                             store::Idempotent::kYes));
  return !rows.empty();
}

Status Ledger::mark_sent(const std::vector<std::string>& keys) {
  if (keys.empty()) return ok();
  OPFLEET_TRY_STATUS(
      conn_.exec_prepared("ledger_mark_sent", {param::text_array(keys)}, store::Idempotent::kYes));
  return ok();
}

Result<int> Ledger::sweep(
    milliseconds grace, milliseconds stale_after, int limit,
    const std::function<std::vector<std::string>(const std::vector<QueuedStep>&)>& send) {
  OPFLEET_TRY(auto tx, conn_.begin());
  OPFLEET_TRY(auto rows, tx.exec(kSweepSelectSql,
                                 {param::float64(seconds(grace)),
                                  param::float64(seconds(stale_after)), param::int64(limit)}));
  if (rows.empty()) {
    OPFLEET_TRY_STATUS(tx.commit());
    return 0;
  }
  std::vector<QueuedStep> batch;
  for (const auto& row : rows) {
    OPFLEET_TRY(auto job, row.get<std::string>("job"));
    OPFLEET_TRY(double ts, row.get<double>("time_scale"));
    OPFLEET_TRY(auto status, row.get<std::string>("status"));
    OPFLEET_TRY(auto q, queued_from_row(row, job, ts));
    if (status == "running") {
      OPFLEET_TRY_STATUS(tx.exec(kRequeueStaleSql, {param::text(q.key)}));
      log::warn("sweeper_requeue_stale", {{"key", q.key}, {"attempt", q.attempt}});
    }
    batch.push_back(std::move(q));
  }
  std::vector<std::string> sent = send(batch);
  if (!sent.empty()) {
    OPFLEET_TRY_STATUS(tx.exec(kMarkSentSql, {param::text_array(sent)}));
  }
  OPFLEET_TRY_STATUS(tx.commit());
  return static_cast<int>(sent.size());
}

}  // namespace opfleet::worker
