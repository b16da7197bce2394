// The servers a fleet depends on go away mid-run: PostgreSQL restarts, the SQS endpoint
// stops and comes back (a private server each, so the shared stack is never touched).
#include <gtest/gtest.h>

#include "tests/support/fauxqs_process.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/postgres_process.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

jobs::JobDef two_step_job(std::string name, double first_s, double second_s) {
  jobs::JobDef job;
  job.name = std::move(name);
  job.schedule = "";
  job.ops = {jobs::OpDef{"first", {}, jobs::SleepParams{first_s, 0.2}},
             jobs::OpDef{"second", {"first"}, jobs::SleepParams{second_s, 0}}};
  return job;
}

long count_steps(Fleet& fleet, const std::string& status, const std::string& step_key) {
  long n = 0;
  for (const auto& s : fleet.steps()) n += s.status == status && s.step_key == step_key;
  return n;
}

TEST(WorkerOutage, RunsCompleteWithoutDuplicatesAcrossAPostgresRestart) {
  PostgresProcess pg;  // outlives the fleet (declared first)
  Fleet fleet({.pg_admin_url = pg.url("postgres")});
  auto& w1 = fleet.start_worker({.slots = 4});
  auto& w2 = fleet.start_worker({.slots = 4});
  const auto job = two_step_job("pg_restart", 1.5, 0.3);
  std::vector<std::string> runs;
  for (int i = 0; i < 6; ++i) runs.push_back(fleet.submit(job, 1.0));
  ASSERT_TRUE(Fleet::wait_until([&] { return count_steps(fleet, "running", "first") >= 4; }, 20s));

  pg.stop();  // fast shutdown: every session is terminated
  // Keep it down until a worker has noticed, so the restart is felt, not slept through.
  auto noticed = [&](WorkerProcess& w) {
    for (const char* e : {"lease_renewal_failed", "postgres_unavailable", "complete_failed",
                          "claim_failed", "fail_record_failed"}) {
      if (!w.events(e).empty()) return true;
    }
    return false;
  };
  EXPECT_TRUE(Fleet::wait_until([&] { return noticed(w1) || noticed(w2); }, 20s));
  pg.start();

  ASSERT_TRUE(fleet.wait_runs(runs, 90s));
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded") << r;
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  for (const auto& [key, n] : a.completions) EXPECT_EQ(n, 1) << key;
  EXPECT_TRUE(w1.process().running());
  EXPECT_TRUE(w2.process().running());
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 30s));
}

TEST(WorkerOutage, InFlightOpsCompleteWhileSqsIsDownAndTheQueueDrainsWhenItIsBack) {
  FauxqsProcess sqs;  // outlives the fleet (declared first)
  sqs.start();
  Fleet fleet({.sqs_endpoint = sqs.endpoint()});
  auto& w = fleet.start_worker({.slots = 4});
  const auto job = two_step_job("sqs_outage", 2.0, 0.1);
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) runs.push_back(fleet.submit(job, 1.0));
  ASSERT_TRUE(Fleet::wait_until([&] { return count_steps(fleet, "running", "first") == 3; }, 20s));

  sqs.stop();
  // The ops hold their PostgreSQL leases and finish; completion needs no SQS.
  ASSERT_TRUE(Fleet::wait_until([&] { return count_steps(fleet, "succeeded", "first") == 3; }, 20s))
      << "in-flight ops did not complete while SQS was down";
  EXPECT_TRUE(w.process().running());
  for (const auto& r : runs) {
    auto attempts = fleet.attempts_of(r + "#first");
    ASSERT_EQ(attempts.size(), 1u) << r;
    EXPECT_EQ(attempts[0].outcome, "succeeded") << "an op was stopped by the SQS outage";
  }

  // Back on the same port. The emulator keeps no state, so the queues are made again
  // (a real SQS outage would not lose them); the steps that became ready meanwhile were
  // never sent, and the sweeper sends them now.
  sqs.start(sqs.port());
  fleet.provision_queues();
  ASSERT_TRUE(fleet.wait_runs(runs, 60s));
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded") << r;
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  for (const auto& [key, n] : a.completions) EXPECT_EQ(n, 1) << key;
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 30s)) << "messages were not deleted";
  EXPECT_TRUE(w.process().running());
}

}  // namespace
}  // namespace opfleet::testing
