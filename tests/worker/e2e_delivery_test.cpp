// At-least-once delivery turned into exactly-once execution: duplicates while a step
// runs, redeliveries after it completed, and messages that are not steps at all.
#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/fleet_fixture.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

jobs::JobDef one_sleep_job(std::string name, double seconds) {
  jobs::JobDef job;
  job.name = std::move(name);
  job.schedule = "";
  job.ops = {jobs::OpDef{"work", {}, jobs::SleepParams{seconds, 0}}};
  return job;
}

TEST(WorkerDelivery, TheSameStepDeliveredTwiceWhileRunningExecutesOnce) {
  Fleet fleet;
  // One slot: while it runs the step, w1 does not poll, so the copy goes to w2.
  auto& w1 = fleet.start_worker({.slots = 1});
  const std::string run = fleet.submit(one_sleep_job("dup", 3.0), 1.0);
  const std::string key = run + "#work";
  ASSERT_TRUE(w1.wait_for_key_event("op_started", key, 20s));

  // A copy with another deduplication id (SQS would drop one with the same id) and
  // another group (a FIFO queue holds back a second message of an in-flight group; a
  // standard queue or a producer retry delivers it like this).
  fleet.send(fleet.queue_url(), fleet.step_message(key, key + "-copy", key + "#copy"));
  auto& w2 = fleet.start_worker({.slots = 1, .log_level = "debug"});

  auto refused = w2.wait_for_key_event("claim_refused", key, 15s);
  ASSERT_TRUE(refused) << "w2 never received the copy";
  EXPECT_EQ((*refused)["reason"], "lease_held");
  ASSERT_EQ(fleet.wait_run(run, 30s), "succeeded");

  // The copy comes back after its visibility timeout, now for a completed step: deleted
  // without running, by whichever worker gets it.
  auto deleted_by = [&](const WorkerProcess& w) {
    for (const auto& e : w.events("finished_step_message_deleted")) {
      if (e.value("key", "") == key) return true;
    }
    return false;
  };
  ASSERT_TRUE(Fleet::wait_until([&] { return deleted_by(w1) || deleted_by(w2); }, 20s))
      << "the duplicate was never deleted";
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));

  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 1u) << "the duplicate delivery executed the step again";
  EXPECT_EQ(attempts[0].worker_id, "w1");
  EXPECT_EQ(attempts[0].outcome, "succeeded");
  EXPECT_TRUE(w2.events("op_started").empty());
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
}

TEST(WorkerDelivery, ARedeliveredMessageOfACompletedStepIsDeletedWithoutRunning) {
  Fleet fleet;
  auto& w = fleet.start_worker({.slots = 2});
  const std::string run = fleet.submit(Fleet::builtin("fast_job"), 0.002);
  ASSERT_EQ(fleet.wait_run(run, 30s), "succeeded");
  ASSERT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
  const auto before = fleet.attempts(run);
  const std::string key = run + "#fast";
  const StepRow step_before = fleet.step(key);

  fleet.send(fleet.queue_url(), fleet.step_message(key, key, key + "#redelivered"));
  auto deleted = w.wait_for_key_event("finished_step_message_deleted", key, 20s);
  ASSERT_TRUE(deleted) << "the redelivered message was not recognised as finished";
  EXPECT_EQ((*deleted)["reason"], "finished");
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));

  const auto after = fleet.attempts(run);
  EXPECT_EQ(after.size(), before.size()) << "a completed step ran again";
  const StepRow step_after = fleet.step(key);
  EXPECT_EQ(step_after.status, "succeeded");
  EXPECT_EQ(step_after.fencing_token, step_before.fencing_token) << "the step was claimed again";
  EXPECT_EQ(step_after.finished_at, step_before.finished_at);
}

TEST(WorkerDelivery, PoisonMessagesGoToTheDlqWithTheirReasonAndTheWorkerCarriesOn) {
  Fleet fleet;
  auto& w = fleet.start_worker({.slots = 2});

  struct Poison {
    std::string body;
    std::string reason;  // expected in the opfleet_poison_reason attribute
  };
  nlohmann::json unknown_version = {
      {"v", 99}, {"run_id", "r1"}, {"step_key", "s"}, {"idempotency_key", "r1#s"}, {"attempt", 0}};
  nlohmann::json oversize = {{"v", 1}, {"padding", std::string(70 * 1024, 'x')}};
  nlohmann::json unknown_step = {{"v", 1},
                                 {"run_id", "no-such-run"},
                                 {"step_key", "ghost"},
                                 {"idempotency_key", "no-such-run#ghost"},
                                 {"attempt", 0},
                                 {"job", "fast_job"},
                                 {"op", {{"kind", "sleep"}, {"mean_s", 1}}},
                                 {"time_scale", 1.0}};
  const std::vector<Poison> poison = {
      {"this is not JSON {", "not valid JSON"},
      {unknown_version.dump(), "unknown message version 99"},
      {oversize.dump(), "exceeds the 65536 byte limit"},
      {unknown_step.dump(), "no such step in the database"},
  };
  for (std::size_t i = 0; i < poison.size(); ++i) {
    sqs::OutgoingMessage m;
    m.body = poison[i].body;
    m.group_id = fmt::format("poison-{}", i);
    m.deduplication_id = fmt::format("poison-{}", i);
    fleet.send(fleet.queue_url(), m);
  }

  auto dead = fleet.take_messages(fleet.dlq_url(), poison.size(), 30s);
  ASSERT_EQ(dead.size(), poison.size());
  for (const auto& p : poison) {
    auto it =
        std::find_if(dead.begin(), dead.end(), [&](const auto& m) { return m.body == p.body; });
    ASSERT_NE(it, dead.end()) << "not in the DLQ: " << p.body.substr(0, 80);
    auto reason = it->message_attributes.find("opfleet_poison_reason");
    ASSERT_NE(reason, it->message_attributes.end()) << p.body.substr(0, 80);
    EXPECT_NE(reason->second.string_value.find(p.reason), std::string::npos)
        << "reason '" << reason->second.string_value << "', wanted '" << p.reason << "'";
    EXPECT_NE(it->message_attributes.find("opfleet_source_message_id"),
              it->message_attributes.end());
  }
  EXPECT_EQ(w.events("poison_message").size(), poison.size());
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s)) << "poison left in the queue";

  // Still alive and still working.
  ASSERT_TRUE(w.process().running());
  const std::string run = fleet.submit(Fleet::builtin("fast_job"), 0.002);
  EXPECT_EQ(fleet.wait_run(run, 30s), "succeeded");
  EXPECT_TRUE(w.process().running());
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
}

}  // namespace
}  // namespace opfleet::testing
