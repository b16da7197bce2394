// The v1 schema's constraints: what the rest of opfleet may rely on.
#include <gtest/gtest.h>

#include "store/connection.h"
#include "store/migrations.h"
#include "store/transaction.h"
#include "tests/store/scratch_database.h"

namespace opfleet::store {
namespace {

using opfleet::testing::ScratchDatabase;

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = migrate(conn);
    ASSERT_TRUE(r) << r.error().describe();
    auto run = conn.exec(
        "INSERT INTO runs (job, tags, time_scale) VALUES ('fast_job', $1, 0.01) "
        "RETURNING run_id",
        {param::json({{"source", "test"}})});
    ASSERT_TRUE(run) << run.error().describe();
    run_id = run->front().get<std::string>("run_id").value();
  }

  Result<Rows> add_step(const std::string& key, const char* status = "pending") {
    return conn.exec(
        "INSERT INTO steps (run_id, step_key, op, depends_on, status, max_attempts) "
        "VALUES ($1, $2, $3::jsonb, $4::text[], $5, 3) RETURNING idempotency_key",
        {param::text(run_id), param::text(key), param::json({{"kind", "sleep"}, {"mean_s", 1}}),
         param::text_array({}), param::text(status)});
  }

  ScratchDatabase db;
  Connection conn{db.options()};
  std::string run_id;
};

TEST_F(SchemaTest, RunIdDefaultsToAUuid) {
  EXPECT_EQ(run_id.size(), 36u);
  auto r = conn.exec("SELECT $1::uuid IS NOT NULL AS ok", {param::text(run_id)});
  ASSERT_TRUE(r) << r.error().describe();
}

TEST_F(SchemaTest, IdempotencyKeyIsDerivedAndUnique) {
  auto step = add_step("fast");
  ASSERT_TRUE(step) << step.error().describe();
  EXPECT_EQ(step->front().get<std::string>("idempotency_key").value(), run_id + "#fast");
  auto again = add_step("fast");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "23505");
  // Nobody can write a key that disagrees with (run_id, step_key).
  auto forged = conn.exec(
      "INSERT INTO steps (run_id, step_key, idempotency_key, op) VALUES ($1, 'x', 'y', '{}')",
      {param::text(run_id)});
  ASSERT_FALSE(forged);
}

TEST_F(SchemaTest, StatusesAreChecked) {
  auto bad = add_step("fast", "exploded");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "23514");
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  auto bad_run = conn.exec("UPDATE runs SET status = 'paused'");
  ASSERT_FALSE(bad_run);
  EXPECT_EQ(bad_run.error().code, "23514");
  auto nan_scale = conn.exec("UPDATE runs SET time_scale = 'NaN'");
  ASSERT_FALSE(nan_scale);
  EXPECT_EQ(nan_scale.error().code, "23514");
}

TEST_F(SchemaTest, RunningStepNeedsALease) {
  ASSERT_TRUE(add_step("fast", "queued"));
  auto no_lease =
      conn.exec("UPDATE steps SET status = 'running' WHERE run_id = $1", {param::text(run_id)});
  ASSERT_FALSE(no_lease);
  EXPECT_EQ(no_lease.error().code, "23514");
  // A claim in the shape of the protocol: lease from the database clock, token bumped.
  auto claimed = conn.exec(
      "UPDATE steps SET status = 'running', attempt = attempt + 1, lease_owner = 'w1', "
      "lease_expires_at = now() + interval '30 seconds', fencing_token = fencing_token + 1, "
      "started_at = now() WHERE run_id = $1 AND step_key = 'fast' AND status = 'queued' "
      "RETURNING fencing_token, attempt",
      {param::text(run_id)});
  ASSERT_TRUE(claimed) << claimed.error().describe();
  ASSERT_EQ(claimed->size(), 1);
  EXPECT_EQ(claimed->front().get<std::int64_t>("fencing_token").value(), 1);
  EXPECT_EQ(claimed->front().get<int>("attempt").value(), 1);
}

TEST_F(SchemaTest, AttemptsLogIsAppendOnly) {
  ASSERT_TRUE(add_step("fast", "queued"));
  auto id_row = conn.exec(
      "INSERT INTO attempts (run_id, step_key, attempt, fencing_token, worker_id, host, pid) "
      "VALUES ($1, 'fast', 1, 1, 'w1', 'h1', 42) RETURNING id, outcome",
      {param::text(run_id)});
  ASSERT_TRUE(id_row) << id_row.error().describe();
  EXPECT_EQ(id_row->front().get<std::string>("outcome").value(), "running");
  const auto id = id_row->front().get<std::int64_t>("id").value();

  // Rewriting who ran it is refused, even while running.
  auto rewrite =
      conn.exec("UPDATE attempts SET worker_id = 'w2' WHERE id = $1", {param::int64(id)});
  ASSERT_FALSE(rewrite);
  EXPECT_EQ(rewrite.error().code, "23001");
  // Closing it once is the one allowed change; it must carry ended_at.
  auto no_end =
      conn.exec("UPDATE attempts SET outcome = 'succeeded' WHERE id = $1", {param::int64(id)});
  ASSERT_FALSE(no_end);
  EXPECT_EQ(no_end.error().code, "23514");
  auto close = conn.exec(
      "UPDATE attempts SET outcome = 'crashed', ended_at = now() WHERE id = $1 AND outcome = "
      "'running'",
      {param::int64(id)});
  ASSERT_TRUE(close) << close.error().describe();
  EXPECT_EQ(close->affected(), 1);
  auto reopen =
      conn.exec("UPDATE attempts SET outcome = 'succeeded' WHERE id = $1", {param::int64(id)});
  ASSERT_FALSE(reopen);
  EXPECT_EQ(reopen.error().code, "23001");
  EXPECT_NE(reopen.error().message.find("already closed"), std::string::npos);

  auto del = conn.exec("DELETE FROM attempts WHERE id = $1", {param::int64(id)});
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, "23001");
  // Retention jobs say so explicitly.
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->exec("SET LOCAL opfleet.purge = 'on'"));
  auto purged = tx->exec("DELETE FROM attempts WHERE id = $1", {param::int64(id)});
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(purged->affected(), 1);
  ASSERT_TRUE(tx->commit());
}

TEST_F(SchemaTest, ScheduleTickIsRecordedOnce) {
  const char* sql =
      "INSERT INTO schedule_ticks (schedule_name, tick_at, job, run_id) "
      "VALUES ('fast_job', '2030-01-01T00:10:00Z', 'fast_job', $1) ON CONFLICT DO NOTHING";
  auto first = conn.exec(sql, {param::text(run_id)});
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->affected(), 1);
  auto second = conn.exec(sql, {param::text(run_id)});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->affected(), 0);
}

TEST_F(SchemaTest, ScalingEventsAndSupervisors) {
  ASSERT_TRUE(conn.exec(
      "INSERT INTO scaling_events (source, kind, action, from_count, to_count, reason, details) "
      "VALUES ('scaler', 'decision', 'scale_out', 1, 3, 'queue depth 40', $1)",
      {param::json({{"depth", 40}})}));
  auto bad = conn.exec("INSERT INTO scaling_events (source, kind) VALUES ('scaler', 'whim')");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "23514");
  const char* beat =
      "INSERT INTO supervisors (host, instance, pid, workers, busy_slots, total_slots, state) "
      "VALUES ('h1', 'default', 100, 4, $1, 16, 'ready') ON CONFLICT (host, instance) DO UPDATE "
      "SET busy_slots = EXCLUDED.busy_slots, heartbeat_at = now()";
  ASSERT_TRUE(conn.exec(beat, {param::int64(2)}));
  ASSERT_TRUE(conn.exec(beat, {param::int64(5)}));
  auto row = conn.exec("SELECT count(*) AS n, max(busy_slots) AS busy FROM supervisors");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->front().get<std::int64_t>("n").value(), 1);
  EXPECT_EQ(row->front().get<int>("busy").value(), 5);
}

}  // namespace
}  // namespace opfleet::store
