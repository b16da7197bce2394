// Failed ops (retried with back-off, then failed for good) and shutdown (SIGTERM drains:
// in-flight ops finish, or are handed back to another worker when the drain times out).
#include <sys/wait.h>

#include <csignal>

#include <gtest/gtest.h>

#include "tests/support/fleet_fixture.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kRetryBaseMs = 200;

jobs::FailParams fails_always() {
  jobs::FailParams p;
  p.always = true;
  return p;
}

jobs::FailParams fails_first(int attempts) {
  jobs::FailParams p;
  p.fail_attempts = attempts;
  return p;
}

jobs::JobDef failing_job(std::string name, jobs::FailParams fail) {
  jobs::JobDef job;
  job.name = std::move(name);
  job.schedule = "";
  job.max_attempts = 3;
  job.ops = {jobs::OpDef{"boom", {}, fail},
             jobs::OpDef{"after", {"boom"}, jobs::SleepParams{0.01, 0}}};
  return job;
}

jobs::JobDef one_sleep_job(std::string name, double seconds) {
  jobs::JobDef job;
  job.name = std::move(name);
  job.schedule = "";
  job.ops = {jobs::OpDef{"work", {}, jobs::SleepParams{seconds, 0}}};
  return job;
}

TEST(WorkerRetry, AFailingOpIsRetriedWithBackoffThenFailsTheRun) {
  Fleet fleet;
  fleet.start_worker({.slots = 2, .retry_base_ms = kRetryBaseMs, .retry_cap_ms = 5000});
  const std::string run = fleet.submit(failing_job("always_fails", fails_always()), 1.0);
  ASSERT_EQ(fleet.wait_run(run, 60s), "failed");

  const StepRow boom = fleet.step(run + "#boom");
  EXPECT_EQ(boom.status, "failed");
  EXPECT_EQ(boom.attempt, 3);
  EXPECT_NE(boom.error.find("injected failure"), std::string::npos) << boom.error;
  EXPECT_EQ(fleet.step(run + "#after").status, "skipped");

  auto attempts = fleet.attempts_of(run + "#boom");
  ASSERT_EQ(attempts.size(), 3u);
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    EXPECT_EQ(attempts[i].attempt, static_cast<int>(i) + 1);
    EXPECT_EQ(attempts[i].outcome, "failed");
    EXPECT_NE(attempts[i].error.find("injected failure"), std::string::npos);
    if (i == 0) continue;
    // Back-off before attempt n+1: base * 2^(n-1), counted from the failure.
    ASSERT_TRUE(attempts[i - 1].ended_at);
    const Micros gap = attempts[i].started_at - *attempts[i - 1].ended_at;
    EXPECT_GE(gap, kRetryBaseMs * 1000LL << (i - 1)) << "attempt " << i + 1 << " came too soon";
  }
  EXPECT_TRUE(fleet.attempts_of(run + "#after").empty()) << "a skipped step ran";
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
}

TEST(WorkerRetry, AnOpThatFailsOnlyItsFirstAttemptSucceedsOnTheSecond) {
  Fleet fleet;
  fleet.start_worker({.slots = 2, .retry_base_ms = kRetryBaseMs, .retry_cap_ms = 5000});
  const std::string run = fleet.submit(failing_job("flaky", fails_first(1)), 1.0);
  ASSERT_EQ(fleet.wait_run(run, 60s), "succeeded");

  auto attempts = fleet.attempts_of(run + "#boom");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "failed");
  EXPECT_EQ(attempts[1].outcome, "succeeded");
  ASSERT_TRUE(attempts[0].ended_at);
  EXPECT_GE(attempts[1].started_at - *attempts[0].ended_at, kRetryBaseMs * 1000LL);
  const StepRow boom = fleet.step(run + "#boom");
  EXPECT_EQ(boom.status, "succeeded");
  EXPECT_EQ(boom.result.value("failed_attempts_before", -1), 1);
  EXPECT_EQ(fleet.step(run + "#after").status, "succeeded");
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
}

TEST(WorkerDrain, SigtermLetsInFlightOpsFinishThenExitsZero) {
  Fleet fleet;
  auto& w = fleet.start_worker({.slots = 2, .drain_timeout_s = 20});
  const auto job = one_sleep_job("drain_finish", 2.0);
  const std::string r1 = fleet.submit(job, 1.0);
  const std::string r2 = fleet.submit(job, 1.0);
  ASSERT_TRUE(w.wait_for_key_event("op_started", r1 + "#work", 20s));
  ASSERT_TRUE(w.wait_for_key_event("op_started", r2 + "#work", 20s));

  w.process().signal(SIGTERM);
  auto status = w.process().wait(20s);
  ASSERT_TRUE(status) << "the worker did not exit within its drain timeout";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;

  for (const auto& r : {r1, r2}) {
    EXPECT_EQ(fleet.run_status(r), "succeeded") << r;
    auto attempts = fleet.attempts(r);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome, "succeeded");
  }
  EXPECT_FALSE(w.events("worker_draining").empty());
  EXPECT_TRUE(w.events("op_handed_back").empty());
  auto stopped = w.events("worker_stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0]["succeeded"], 2);
  EXPECT_EQ(stopped[0]["handed_back"], 0);
}

TEST(WorkerDrain, AShortDrainHandsOpsBackAndAnotherWorkerCompletesThem) {
  Fleet fleet;
  auto& w1 = fleet.start_worker({.slots = 1, .drain_timeout_s = 0});
  const std::string run = fleet.submit(one_sleep_job("drain_handback", 3.0), 1.0);
  const std::string key = run + "#work";
  ASSERT_TRUE(w1.wait_for_key_event("op_started", key, 20s));

  w1.process().signal(SIGTERM);
  auto status = w1.process().wait(15s);
  ASSERT_TRUE(status) << "the worker did not exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
  auto back = w1.events("op_handed_back");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0]["released"], true);
  EXPECT_EQ(fleet.step(key).status, "queued") << "handed back, waiting for another worker";

  auto& w2 = fleet.start_worker({.slots = 1});
  ASSERT_EQ(fleet.wait_run(run, 30s), "succeeded");
  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].worker_id, w1.id());
  EXPECT_EQ(attempts[0].outcome, "handed_back");
  EXPECT_EQ(attempts[1].worker_id, w2.id());
  EXPECT_EQ(attempts[1].outcome, "succeeded");
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
}

}  // namespace
}  // namespace opfleet::testing
