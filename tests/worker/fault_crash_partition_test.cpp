// Workers that die or lose PostgreSQL in the middle of an op: the step is taken over
// only after the lease ran out, the cut-off worker stops its op before that, and the key
// is completed exactly once with no two executions overlapping.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "netfault/tcp_proxy.h"
#include "tests/support/fleet_fixture.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kLeaseMs = 4000;

jobs::JobDef one_op_job(std::string name, jobs::OpParams params) {
  jobs::JobDef job;
  job.name = std::move(name);
  job.schedule = "";
  job.ops = {jobs::OpDef{"work", {}, std::move(params)}};
  return job;
}

TEST(WorkerCrash, AStepOfAKilledWorkerIsRetriedAfterItsLeaseExpires) {
  Fleet fleet;
  auto& w1 = fleet.start_worker({.slots = 1, .lease_ms = kLeaseMs});
  const std::string run = fleet.submit(one_op_job("crash", jobs::SleepParams{2.0, 0}), 1.0);
  const std::string key = run + "#work";
  ASSERT_TRUE(w1.wait_for_key_event("op_started", key, 20s));
  w1.process().kill_now();  // SIGKILL: no hand-back, no release, nothing

  auto& w2 = fleet.start_worker({.slots = 1, .lease_ms = kLeaseMs});
  ASSERT_EQ(fleet.wait_run(run, 60s), "succeeded");

  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].worker_id, w1.id());
  EXPECT_EQ(attempts[0].outcome, "lease_expired");
  EXPECT_EQ(attempts[1].worker_id, w2.id());
  EXPECT_EQ(attempts[1].outcome, "succeeded");
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_GT(attempts[1].fencing_token, attempts[0].fencing_token);
  // The lease ran from the first claim for at least kLeaseMs (renewals only extend it),
  // and the takeover closed the dead attempt at the instant it began its own.
  EXPECT_GE(attempts[1].started_at - attempts[0].started_at, kLeaseMs * 1000LL);
  std::printf("measured: taken over %.0f ms after the killed worker's claim (lease %d ms)\n",
              static_cast<double>(attempts[1].started_at - attempts[0].started_at) / 1000.0,
              kLeaseMs);
  ASSERT_TRUE(attempts[0].ended_at);
  EXPECT_EQ(*attempts[0].ended_at, attempts[1].started_at);
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  EXPECT_EQ(a.completions[key], 1);
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
}

TEST(WorkerCrash, AStepWhoseLastAttemptCrashedFailsTheRunInsteadOfHanging) {
  Fleet fleet;
  auto& w1 = fleet.start_worker({.slots = 1, .lease_ms = kLeaseMs});
  jobs::JobDef job = one_op_job("crash_exhausted", jobs::SleepParams{2.0, 0});
  job.max_attempts = 1;
  job.ops.push_back(jobs::OpDef{"after", {"work"}, jobs::SleepParams{0.01, 0}});
  const std::string run = fleet.submit(job, 1.0);
  const std::string key = run + "#work";
  ASSERT_TRUE(w1.wait_for_key_event("op_started", key, 20s));
  w1.process().kill_now();

  // The message comes back after the lease; with no attempt left the step fails (nothing
  // is left hanging in 'running'), the run fails and the message is deleted.
  auto& w2 = fleet.start_worker({.slots = 1, .lease_ms = kLeaseMs});
  ASSERT_EQ(fleet.wait_run(run, 60s), "failed");
  const StepRow step = fleet.step(key);
  EXPECT_EQ(step.status, "failed");
  EXPECT_NE(step.error.find("gave up after 1 attempts"), std::string::npos) << step.error;
  EXPECT_EQ(fleet.step(run + "#after").status, "skipped");
  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "lease_expired");
  EXPECT_TRUE(w2.events("op_started").empty());
  auto deleted = w2.wait_for_key_event("finished_step_message_deleted", key, 10s);
  ASSERT_TRUE(deleted);
  EXPECT_EQ((*deleted)["reason"], "exhausted");
  Audit a = fleet.audit();
  EXPECT_TRUE(a.clean()) << a.describe();
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 20s));
}

// Effect lines "<shell pid> <epoch ns>" written by the command op, grouped by execution.
std::map<long, std::vector<Micros>> read_effects(const std::string& path) {
  std::map<long, std::vector<Micros>> by_pid;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long pid = 0;
    long long ns = 0;
    if (fields >> pid >> ns) by_pid[pid].push_back(ns / 1000);
  }
  return by_pid;
}

TEST(WorkerPartition, AWorkerCutOffFromPostgresStopsItsOpBeforeItsLeaseExpires) {
  Fleet fleet;
  netfault::TcpProxyOptions po;
  po.upstream = {fleet.database_host(), fleet.database_port()};
  auto proxy = netfault::TcpProxy::start(po);
  ASSERT_TRUE(proxy) << proxy.error().describe();

  // The op leaves a trace of every 50 ms it runs, so the test sees when each execution
  // really stopped, not only what the workers say about it.
  const std::string effects = fleet.dir() + "/effects.log";
  const std::string script =
      "i=0; while [ $i -lt 120 ]; do echo \"$$ $(date +%s%N)\" >> \"$1\"; sleep 0.05; "
      "i=$((i+1)); done";
  jobs::CommandParams cmd;
  cmd.argv = {"/bin/sh", "-c", script, "effect", effects};
  cmd.timeout_s = 60;
  const WorkerSpec cut_off{.worker_id = "cut-off",
                           .slots = 1,
                           .lease_ms = kLeaseMs,
                           .db_statement_timeout_ms = 2000,
                           .database_url = fleet.database_url_via("127.0.0.1", (*proxy)->port()),
                           .command_allow = {"/bin/sh"}};
  auto& a = fleet.start_worker(cut_off);
  const std::string run = fleet.submit(one_op_job("partition", cmd), 1.0);
  const std::string key = run + "#work";
  ASSERT_TRUE(a.wait_for_key_event("op_started", key, 20s));
  ASSERT_TRUE(Fleet::wait_until([&] { return read_effects(effects).size() == 1; }, 10s));
  const std::int64_t a_token = fleet.attempts_of(key).at(0).fencing_token;

  (*proxy)->set_mode(netfault::Mode::kBlackhole);
  auto& b = fleet.start_worker(
      {.worker_id = "healthy", .slots = 1, .lease_ms = kLeaseMs, .command_allow = {"/bin/sh"}});

  // Watch the lease of the cut-off execution until someone else holds the step: the last
  // value seen is when that lease expired (only its owner could have extended it).
  std::optional<Micros> a_lease_end;
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        StepRow s = fleet.step(key);
        if (s.fencing_token == a_token) a_lease_end = s.lease_expires_at;
        return s.fencing_token > a_token;
      },
      30s))
      << "the step was never taken over";
  ASSERT_TRUE(a_lease_end);
  ASSERT_EQ(fleet.wait_run(run, 30s), "succeeded");

  auto runs = read_effects(effects);
  ASSERT_EQ(runs.size(), 2u) << "expected the cut-off execution and the takeover";
  auto first = runs.begin();
  auto second = std::next(first);
  if (second->second.front() < first->second.front()) std::swap(first, second);
  const Micros a_last = first->second.back();
  const Micros b_first = second->second.front();
  EXPECT_LT(a_last, *a_lease_end) << "the cut-off op ran " << (a_last - *a_lease_end)
                                  << " us past its lease";
  EXPECT_LT(a_last, b_first) << "the two executions overlapped";
  std::printf(
      "measured: the cut-off op stopped %.0f ms before its lease expired; the "
      "takeover's op started %.0f ms after it stopped\n",
      static_cast<double>(*a_lease_end - a_last) / 1000.0,
      static_cast<double>(b_first - a_last) / 1000.0);

  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].worker_id, "cut-off");
  EXPECT_TRUE(attempts[0].outcome == "fenced" || attempts[0].outcome == "lease_expired")
      << attempts[0].outcome;
  ASSERT_TRUE(attempts[0].ended_at);
  EXPECT_EQ(attempts[1].worker_id, "healthy");
  EXPECT_EQ(attempts[1].outcome, "succeeded");
  EXPECT_GE(attempts[1].started_at, *a_lease_end) << "taken over before the lease expired";
  Audit audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
  EXPECT_EQ(audit.completions[key], 1);

  // Healed: the cut-off worker reconnects, learns that it lost the step, and lives on.
  (*proxy)->restore();
  EXPECT_TRUE(a.wait_for_key_event("op_fenced", key, 60s))
      << "no op_fenced from the cut-off worker";
  EXPECT_TRUE(a.process().running());
  EXPECT_TRUE(b.process().running());
  EXPECT_TRUE(fleet.wait_queue_empty(fleet.queue_url(), 30s));
}

}  // namespace
}  // namespace opfleet::testing
