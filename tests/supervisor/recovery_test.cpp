// Crash recovery and process supervision with real processes: `opfleet supervise` and its
// workers on the stack's PostgreSQL and SQS emulator (a database and queues per test).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "common/proc.h"
#include "shm/segment.h"
#include "tests/supervisor/supervisor_process.h"

namespace opfleet::testing {
namespace {

// Waits until a worker runs `key` (its claim in shared memory carries the fencing token
// of the PostgreSQL claim) and returns that worker's pid and slot.
std::pair<pid_t, int> wait_for_claim(const SupervisorProcess& sup, const std::string& key) {
  std::pair<pid_t, int> holder{0, -1};
  Fleet::wait_until(
      [&] {
        for (const auto& w : sup.status().workers) {
          for (const auto& c : w.claims) {
            if (c.key == key && c.fencing_token > 0) {
              holder = {w.pid, static_cast<int>(w.index)};
              return true;
            }
          }
        }
        return false;
      },
      seconds(20));
  return holder;
}

TEST(SupervisorRecoveryTest, AWorkerKilledMidOpHasItsOpRunningElsewhereAtOnce) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 1, .http_listen = "127.0.0.1:0"});
  const std::string run = fleet.submit(sleep_job(3), 1.0);
  const std::string key = run + "#sleep";
  auto [victim, slot] = wait_for_claim(sup, key);
  ASSERT_GT(victim, 0) << "the op never started";

  const Micros killed_at = now_micros();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  // Running again: a second attempt started (long before the 30 s lease could expire).
  ASSERT_TRUE(Fleet::wait_until([&] { return fleet.attempts_of(key).size() >= 2; }, seconds(10)));
  auto attempts = fleet.attempts_of(key);
  const Micros latency_us = attempts[1].started_at - killed_at;
  RecordProperty("recovery_latency_us", std::to_string(latency_us));
  fmt::print("crash recovery: SIGKILL -> op running again in {:.1f} ms\n",
             static_cast<double>(latency_us) / 1000.0);
  EXPECT_LT(latency_us, 1'000'000);
  EXPECT_EQ(attempts[0].outcome, "crashed");
  EXPECT_EQ(attempts[0].pid, victim);

  EXPECT_EQ(fleet.wait_run(run), "succeeded");
  auto audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
  EXPECT_EQ(audit.completions[key], 1);

  auto recovered = sup.wait_for_event("claims_recovered", seconds(5));
  ASSERT_TRUE(recovered);
  EXPECT_EQ((*recovered)["claims"], 1);
  EXPECT_EQ((*recovered)["leases_released"], 1);
  EXPECT_EQ((*recovered)["messages_visible"], 1);
  EXPECT_EQ((*recovered)["failures"], 0);
  // The slot got a new worker.
  EXPECT_TRUE(
      sup.wait_for_event("worker_started", seconds(10), [slot = slot](const nlohmann::json& j) {
        return j.value("slot", -1) == slot && j.value("generation", 0) == 2;
      }));
  EXPECT_TRUE(sup.wait_running(2));
  EXPECT_EQ(sup.status().claims_recovered, 1u);

  auto port = sup.events("http_listening").at(0)["port"].get<std::uint16_t>();
  auto [code, metrics] = http_get(port, "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_NE(metrics.find("opfleet_recovery_latency_seconds_count 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("opfleet_claims_recovered_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("opfleet_worker_restarts_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("opfleet_worker_exits_total{kind=\"crash\"} 1\n"), std::string::npos);
}

TEST(SupervisorRecoveryTest, WorkersOfAKilledSupervisorLeaveAndANewSupervisorTakesOver) {
  Fleet fleet;
  const std::string instance = unique_name("sup");
  auto first = std::make_unique<SupervisorProcess>(
      fleet, SupervisorSpec{.instance = instance, .workers = 1, .slots = 1, .drain_timeout_s = 1});
  const std::string run = fleet.submit(sleep_job(5), 1.0);
  const std::string key = run + "#sleep";
  auto [worker, slot] = wait_for_claim(*first, key);
  ASSERT_GT(worker, 0);
  const auto worker_ticks = process_start_ticks(worker);

  first->process().kill_now();
  // The parent-death signal (SIGTERM) drains the orphaned worker: it hands its op back
  // after its 1 s drain timeout and exits.
  ASSERT_TRUE(Fleet::wait_until([&] { return !process_alive(worker, worker_ticks); }, seconds(10)));
  EXPECT_EQ(fleet.attempts_of(key).at(0).outcome, "handed_back");

  // The segment is left behind, stale: the next supervisor rebuilds it.
  ASSERT_TRUE(shm::SegmentHandle::attach(instance).has_value());
  SupervisorProcess second(fleet, {.instance = instance, .workers = 1, .slots = 1});
  // Both supervisors log to the instance's file: the last start is the second's.
  EXPECT_EQ(second.events("supervisor_started").back()["rebuilt_stale_segment"], true);
  EXPECT_EQ(fleet.wait_run(run, seconds(30)), "succeeded");
  auto attempts = fleet.attempts_of(key);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].outcome, "succeeded");
  EXPECT_NE(attempts[1].pid, worker);
  auto audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
}

TEST(SupervisorRecoveryTest, AHungWorkerIsKilledAndReplaced) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .hung_timeout_s = 2, .kill_grace_s = 1});
  const auto before = sup.status();
  const auto& target = before.workers.at(1);
  ASSERT_EQ(kill(target.pid, SIGSTOP), 0);  // its loop stops beating

  auto hung = sup.wait_for_event("worker_hung", seconds(10), [&](const nlohmann::json& j) {
    return j.value("pid", 0) == target.pid;
  });
  ASSERT_TRUE(hung);
  EXPECT_GE((*hung)["heartbeat_age_s"].get<double>(), 2.0);
  // A stopped process ignores SIGTERM until continued: SIGKILL follows the grace.
  EXPECT_TRUE(sup.wait_for_event("worker_kill", seconds(5)));
  auto replaced = Fleet::wait_until(
      [&] {
        for (const auto& w : sup.status().workers) {
          if (w.index == target.index && w.state == "running" && w.generation == 2) return true;
        }
        return false;
      },
      seconds(15));
  EXPECT_TRUE(replaced);
  EXPECT_TRUE(sup.wait_running(2));
  auto crashed = sup.events("worker_crashed");
  ASSERT_EQ(crashed.size(), 1u);
  EXPECT_EQ(crashed[0]["status"], "signal SIGKILL");
}

TEST(SupervisorRecoveryTest, AWorkerConfigurationErrorStopsTheSupervisorWith78) {
  Fleet fleet;
  SupervisorProcess sup(
      fleet,
      {.workers = 2, .queue_name = unique_name("no-such-queue") + ".fifo", .wait_ready = false});
  auto status = sup.process().wait(seconds(30));
  ASSERT_TRUE(status) << sup.process().output();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 78) << sup.process().output();
  EXPECT_FALSE(sup.events("worker_config_error").empty());
  EXPECT_TRUE(sup.events("worker_crashed").empty());  // never respawned in a loop
}

TEST(SupervisorRecoveryTest, AWorkerRefusesASlotThatIsNotWaitingForIt) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 1});
  auto run_worker = [&](const std::string& instance, const std::string& parent) {
    return sup.cli({"worker", "--instance", instance, "--worker-index", "0", "--generation", "1",
                    "--supervisor-pid", parent, "--database-url", fleet.database_url(),
                    "--sqs-endpoint", fleet.sqs_endpoint(), "--queue-name", fleet.queue_name()});
  };
  // The test, not the supervisor, is this worker's parent: it leaves at once.
  auto r = run_worker(sup.instance(), std::to_string(sup.pid()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is gone"), std::string::npos) << r.output;
  // Its parent, but no such instance: a configuration error.
  r = run_worker(unique_name("none"), std::to_string(getpid()));
  EXPECT_EQ(r.exit_code, 78) << r.output;
  // Its parent, a live instance, but slot 0 is taken (running): refused, slot untouched.
  r = run_worker(sup.instance(), std::to_string(getpid()));
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_NE(r.output.find("not waiting for this worker"), std::string::npos) << r.output;
  EXPECT_EQ(sup.status().workers.at(0).state, "running");

  // A segment of another layout version (another build): refused with exit 78.
  const std::string foreign = unique_name("foreign");
  const std::string path = "/dev/shm/" + shm::segment_name(foreign);
  {
    std::vector<char> bytes(shm::kSegmentSize, 0);
    const std::uint64_t magic = shm::kMagic;
    const std::uint32_t version = shm::kLayoutVersion + 1;
    std::memcpy(bytes.data() + offsetof(shm::Header, magic), &magic, sizeof magic);
    std::memcpy(bytes.data() + offsetof(shm::Header, layout_version), &version, sizeof version);
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  r = run_worker(foreign, std::to_string(getpid()));
  unlink(path.c_str());
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_NE(r.output.find("layout version"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace opfleet::testing
