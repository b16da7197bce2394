// run_audit against planted rows (a database of its own per test): each kind of violation
// is found and named, clean executions pass, and the filters select the runs.
#include "audit/audit.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/migrations.h"
#include "tests/audit/audit_plant.h"
#include "tests/store/scratch_database.h"

namespace opfleet::audit {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

std::unique_ptr<store::Connection> migrated(const testing::ScratchDatabase& scratch) {
  auto c = store::connect(scratch.options());
  if (!c) throw std::runtime_error(c.error().describe());
  if (auto m = store::migrate(**c); !m) throw std::runtime_error(m.error().describe());
  return std::move(*c);
}

class Audit : public ::testing::Test {
 protected:
  Audit() : scratch_("opfleet_audit"), db_(migrated(scratch_)), plant_(*db_) {}

  AuditReport audit(const AuditFilter& filter = {}) {
    auto r = run_audit(*db_, filter);
    if (!r) throw std::runtime_error(r.error().describe());
    return std::move(*r);
  }

  testing::ScratchDatabase scratch_;
  std::unique_ptr<store::Connection> db_;
  testing::Planter plant_;
};

TEST_F(Audit, CleanExecutionsPass) {
  plant_.clean_run();
  plant_.clean_run();
  // A run in progress: one step done, one running now, one waiting. Not lost, not stuck.
  const auto live = plant_.run("running", "5 minutes");
  plant_.step(live, "a", "succeeded");
  plant_.step(live, "b", "running");
  plant_.step(live, "c", "pending");
  plant_.attempt(live, "a", 1, "succeeded", "4 minutes", "3 minutes");
  plant_.attempt(live, "b", 1, "running", "3 minutes", "");
  // A failed run: a step out of attempts, the rest skipped.
  const auto failed = plant_.run("failed");
  plant_.step(failed, "a", "failed");
  plant_.step(failed, "b", "skipped");
  plant_.attempt(failed, "a", 1, "failed", "30 seconds", "20 seconds");
  plant_.attempt(failed, "a", 2, "failed", "20 seconds", "10 seconds");

  const auto r = audit();
  EXPECT_TRUE(r.ok()) << format_report(r);
  EXPECT_EQ(r.runs, 4);
  EXPECT_EQ(r.steps, 2 + 2 + 3 + 2);
  EXPECT_EQ(r.executions, 3 + 3 + 2 + 2);
  EXPECT_EQ(r.counts.total(), 0);
  EXPECT_FALSE(r.checked_at.empty());
  const auto j = to_json(r);
  EXPECT_TRUE(j.at("ok").get<bool>());
  EXPECT_NE(format_report(r).find("OK: no violations"), std::string::npos);
}

TEST_F(Audit, FindsADuplicateCompletion) {
  plant_.clean_run();
  const auto id = plant_.run("succeeded");
  plant_.step(id, "load", "succeeded");
  plant_.attempt(id, "load", 1, "succeeded", "50 seconds", "40 seconds");
  plant_.attempt(id, "load", 2, "succeeded", "30 seconds", "20 seconds");

  const auto r = audit();
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.counts.duplicates, 1);
  ASSERT_EQ(r.duplicates.size(), 1u);
  EXPECT_EQ(r.duplicates[0].key, id + "#load");
  EXPECT_EQ(r.duplicates[0].succeeded_executions, 2);
  EXPECT_EQ(r.duplicates[0].reason, "completed_twice");
  EXPECT_EQ(r.counts.overlaps + r.counts.lost + r.counts.stuck, 0);
  const auto text = format_report(r);
  EXPECT_NE(text.find("DUPLICATES (1)"), std::string::npos) << text;
  EXPECT_NE(text.find(id + "#load"), std::string::npos) << text;
  EXPECT_NE(text.find("FAILED: 1 violations"), std::string::npos) << text;
}

TEST_F(Audit, FindsCompletionsThatDisagreeWithTheStep) {
  const auto id = plant_.run("failed");
  plant_.step(id, "never_ran", "succeeded");  // succeeded without any execution
  plant_.step(id, "unrecorded", "failed");    // an execution succeeded, the step says failed
  plant_.attempt(id, "unrecorded", 1, "succeeded", "50 seconds", "40 seconds");

  const auto r = audit();
  ASSERT_EQ(r.counts.duplicates, 2) << format_report(r);
  EXPECT_EQ(r.duplicates[0].key, id + "#never_ran");
  EXPECT_EQ(r.duplicates[0].reason, "succeeded_without_execution");
  EXPECT_EQ(r.duplicates[1].key, id + "#unrecorded");
  EXPECT_EQ(r.duplicates[1].reason, "execution_not_recorded_on_step");
}

TEST_F(Audit, FindsOverlappingExecutions) {
  plant_.clean_run();  // its hand-over (one ends as the next starts) is not an overlap
  const auto id = plant_.run("succeeded");
  plant_.step(id, "extract", "succeeded");
  // The second execution started while the first still ran.
  plant_.attempt(id, "extract", 1, "crashed", "50 seconds", "30 seconds");
  plant_.attempt(id, "extract", 2, "succeeded", "40 seconds", "10 seconds");
  // An execution still open (running until now) and a later one that already ended.
  const auto open = plant_.run("running");
  plant_.step(open, "transform", "running");
  plant_.attempt(open, "transform", 1, "running", "50 seconds", "");
  plant_.attempt(open, "transform", 2, "handed_back", "20 seconds", "10 seconds");

  const auto r = audit();
  ASSERT_EQ(r.counts.overlaps, 2) << format_report(r);
  EXPECT_EQ(r.counts.duplicates + r.counts.lost + r.counts.stuck, 0) << format_report(r);
  const Overlap* closed = nullptr;
  const Overlap* still_open = nullptr;
  for (const auto& o : r.overlaps) (o.run_id == id ? closed : still_open) = &o;
  ASSERT_TRUE(closed != nullptr && still_open != nullptr);
  EXPECT_EQ(closed->key, id + "#extract");
  EXPECT_EQ(closed->first.attempt, 1);
  EXPECT_EQ(closed->first.outcome, "crashed");
  EXPECT_EQ(closed->second.attempt, 2);
  EXPECT_EQ(closed->second.worker_id, "w2");
  EXPECT_LT(closed->second.started_at, closed->first.ended_at);
  EXPECT_EQ(still_open->key, open + "#transform");
  EXPECT_TRUE(still_open->first.ended_at.empty());
  const auto j = to_json(r);
  EXPECT_EQ(j.at("violations").at("overlaps").size(), 2u);
  EXPECT_TRUE(j.at("violations").at("overlaps")[0].at("first").contains("started_at"));
}

TEST_F(Audit, FindsLostSteps) {
  // Finished while a step never ran: lost at once.
  const auto finished = plant_.run("succeeded");
  plant_.step(finished, "a", "succeeded");
  plant_.step(finished, "b", "queued");
  plant_.attempt(finished, "a", 1, "succeeded", "50 seconds", "40 seconds");
  // Still running after two hours with a step queued (and activity, so not stuck).
  const auto old = plant_.run("running", "2 hours");
  plant_.step(old, "a", "succeeded");
  plant_.step(old, "b", "queued");
  plant_.attempt(old, "a", 1, "succeeded", "10 minutes", "5 minutes");
  // Young runs with steps not done are in progress, not lost.
  const auto young = plant_.run("queued", "10 minutes");
  plant_.step(young, "a", "queued");

  auto r = audit();
  ASSERT_EQ(r.counts.lost, 2) << format_report(r);
  EXPECT_EQ(r.counts.stuck, 0) << format_report(r);
  for (const auto& l : r.lost) {
    if (l.run_id == finished) {
      EXPECT_EQ(l.key, finished + "#b");
      EXPECT_EQ(l.reason, "run_finished");
      EXPECT_EQ(l.run_status, "succeeded");
    } else {
      EXPECT_EQ(l.key, old + "#b");
      EXPECT_EQ(l.reason, "run_older_than_lost_after");
      EXPECT_EQ(l.step_status, "queued");
    }
  }
  // A shorter threshold makes the young run's step lost too.
  AuditFilter f;
  f.lost_after = minutes(5);
  EXPECT_EQ(audit(f).counts.lost, 3);
}

TEST_F(Audit, FindsStuckRuns) {
  // Every step terminal, the run still running: nothing will ever finish it.
  const auto done = plant_.run("running");
  plant_.step(done, "a", "succeeded");
  plant_.attempt(done, "a", 1, "succeeded", "50 seconds", "40 seconds");
  // Queued for two hours without a single execution.
  const auto idle = plant_.run("queued", "2 hours");
  plant_.step(idle, "a", "queued");
  // Old but busy: an execution started a minute ago.
  const auto busy = plant_.run("running", "150 minutes");
  plant_.step(busy, "a", "running");
  plant_.attempt(busy, "a", 1, "running", "1 minute", "");

  const auto r = audit();
  ASSERT_EQ(r.counts.stuck, 2) << format_report(r);
  EXPECT_EQ(r.stuck[0].run_id, idle);  // oldest first
  EXPECT_EQ(r.stuck[0].reason, "no_activity");
  EXPECT_TRUE(r.stuck[0].last_activity.empty());
  EXPECT_EQ(r.stuck[1].run_id, done);
  EXPECT_EQ(r.stuck[1].reason, "all_steps_terminal");
  EXPECT_FALSE(r.stuck[1].last_activity.empty());
  EXPECT_NE(format_report(r).find("STUCK (2)"), std::string::npos);

  AuditFilter patient;
  patient.stuck_after = hours(3);
  patient.lost_after = hours(3);
  const auto p = audit(patient);
  EXPECT_EQ(p.counts.stuck, 1);  // all_steps_terminal does not wait
  EXPECT_EQ(p.counts.lost, 0);
}

TEST_F(Audit, TagsSelectTheRuns) {
  plant_.clean_run(R"({"scenario": "good", "team": "a"})");
  const auto bad = plant_.run("succeeded", "1 minute", R"({"scenario": "bad", "team": "a"})");
  plant_.step(bad, "a", "succeeded");

  AuditFilter good;
  good.tags = {{"scenario", "good"}};
  const auto g = audit(good);
  EXPECT_TRUE(g.ok()) << format_report(g);
  EXPECT_EQ(g.runs, 1);

  AuditFilter team;
  team.tags = {{"team", "a"}};
  EXPECT_EQ(audit(team).runs, 2);
  EXPECT_EQ(audit(team).counts.duplicates, 1);

  AuditFilter both;
  both.tags = {{"team", "a"}, {"scenario", "bad"}};
  const auto b = audit(both);
  EXPECT_EQ(b.runs, 1);
  ASSERT_EQ(b.duplicates.size(), 1u);
  EXPECT_EQ(b.duplicates[0].run_id, bad);

  AuditFilter none;
  none.tags = {{"team", "b"}};
  EXPECT_EQ(audit(none).runs, 0);
}

TEST_F(Audit, SinceSelectsTheRuns) {
  plant_.clean_run("{}", "1 minute");
  const auto old = plant_.run("succeeded", "3 hours");
  plant_.step(old, "a", "succeeded");  // without an execution

  AuditFilter recent;
  recent.within = hours(1);
  const auto r = audit(recent);
  EXPECT_TRUE(r.ok()) << format_report(r);
  EXPECT_EQ(r.runs, 1);

  AuditFilter since_literal;
  since_literal.since = "2000-01-01T00:00:00Z";
  EXPECT_EQ(audit(since_literal).runs, 2);
  EXPECT_EQ(audit(since_literal).counts.duplicates, 1);

  AuditFilter future;
  future.since = "2999-01-01 00:00:00";  // no zone: UTC
  EXPECT_EQ(audit(future).runs, 0);

  AuditFilter bad;
  bad.since = "last tuesday-ish";
  auto e = run_audit(*db_, bad);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ErrorKind::kInvalid);
}

TEST_F(Audit, ListsStopAtTheLimitButCountsStayExact) {
  const auto id = plant_.run("succeeded");
  for (int i = 0; i < 5; ++i) plant_.step(id, "s" + std::to_string(i), "pending");
  AuditFilter f;
  f.list_limit = 2;
  const auto r = audit(f);
  EXPECT_EQ(r.counts.lost, 5);
  EXPECT_EQ(r.lost.size(), 2u);
  const auto j = to_json(r);
  EXPECT_TRUE(j.at("truncated").get<bool>());
  EXPECT_EQ(j.at("counts").at("lost").get<int>(), 5);
  EXPECT_NE(format_report(r).find("... and 3 more"), std::string::npos);
}

TEST_F(Audit, JsonHasTheStableSchema) {
  plant_.clean_run(R"({"k": "v"})");
  AuditFilter f;
  f.tags = {{"k", "v"}};
  const auto j = to_json(audit(f));
  for (const char* key : {"runs", "steps", "executions", "violations", "ok", "counts", "truncated",
                          "checked_at", "filter"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* kind : {"duplicates", "overlaps", "lost", "stuck"}) {
    EXPECT_TRUE(j.at("violations").at(kind).is_array()) << kind;
  }
  EXPECT_EQ(j.at("runs").get<int>(), 1);
  EXPECT_EQ(j.at("steps").get<int>(), 2);
  EXPECT_EQ(j.at("executions").get<int>(), 3);
  EXPECT_EQ(j.at("filter").at("tags").at("k").get<std::string>(), "v");
  EXPECT_TRUE(j.at("ok").get<bool>());
}

}  // namespace
}  // namespace opfleet::audit
