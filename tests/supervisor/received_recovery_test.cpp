// Messages a worker received but had not claimed yet (docs/claim-protocol.md, step 1): they
// are recorded in shared memory the moment the receive returns, so a worker killed before
// claiming them has them handed back at once, not after a whole lease; and every path that
// drops or hands back a message frees its slot again.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "shm/claims.h"
#include "shm/segment.h"
#include "store/params.h"
#include "store/transaction.h"
#include "tests/supervisor/supervisor_process.h"

namespace opfleet::testing {
namespace {

// Locks the steps of `keys` in a transaction of its own, as a slow or contended
// PostgreSQL would: a worker's claim of one of them waits until unlock() or its
// statement timeout (3 s under SupervisorProcess).
class StepLock {
 public:
  StepLock(Fleet& fleet, const std::vector<std::string>& keys)
      : fleet_(fleet),
        conn_(store::ConnectionOptions{.url = fleet.database_url(),
                                       .statement_timeout = milliseconds(0)}) {
    auto tx = conn_.begin();
    if (!tx) throw std::runtime_error(tx.error().describe());
    tx_.emplace(std::move(*tx));
    auto locked =
        tx_->exec("SELECT 1 FROM steps WHERE idempotency_key = ANY($1::text[]) FOR UPDATE",
                  {store::param::text_array(keys)});
    if (!locked || locked->size() != static_cast<int>(keys.size())) {
      throw std::runtime_error("could not lock the steps");
    }
  }
  // Sessions whose statement waits for a lock now.
  int waiters() {
    auto rows = fleet_.db().exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
    return rows ? static_cast<int>((*rows)[0].get<std::int64_t>(0).value_or(0)) : -1;
  }
  // PostgreSQL does not notice that a client died while its statement waits for a lock:
  // the statement would run (and a claim commit, for a dead worker) once the lock goes.
  // Ends those sessions first, as if the slow statement had never got through.
  // Returns once they are gone (a terminated session may otherwise still take the lock).
  bool terminate_waiters() {
    auto ended = fleet_.db().exec(
        "WITH w AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE datname = "
        "current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()) "
        "SELECT array_agg(pid)::text FROM w WHERE pg_terminate_backend(pid)");
    if (!ended) return false;
    const std::string pids = std::string((*ended)[0].get<std::string>(0).value_or("{}"));
    return Fleet::wait_until(
        [&] {
          auto left =
              fleet_.db().exec("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                               {store::param::text(pids)});
          return left && (*left)[0].get<std::int64_t>(0).value_or(1) == 0;
        },
        seconds(5));
  }
  void unlock() { tx_.reset(); }  // rolls back

 private:
  Fleet& fleet_;  // its own session watches: a transaction sees one snapshot of the activity
  store::Connection conn_;
  std::optional<store::Transaction> tx_;
};

// Claim slots of worker slot `index` in use (claimed or received), straight from the
// instance's segment.
std::vector<shm::ClaimRecord> slots_in_use(const SupervisorProcess& sup, std::uint32_t index) {
  auto seg = shm::SegmentHandle::attach(sup.instance());
  if (!seg) throw std::runtime_error(seg.error().describe());
  return shm::read_slots_in_use(seg->get()->workers[index]);
}

TEST(SupervisorReceivedRecoveryTest, AWorkerKilledBeforeClaimingWhatItReceivedHasItHandedBack) {
  Fleet fleet;
  constexpr int kRuns = 3;
  std::vector<std::string> runs;
  std::vector<std::string> keys;
  for (int i = 0; i < kRuns; ++i) {
    runs.push_back(fleet.submit(sleep_job(0.1), 1.0));
    keys.push_back(runs.back() + "#sleep");
  }
  // The claims will block: the worker holds all three messages, claims the first and
  // leaves the other two waiting behind it (one PostgreSQL round trip at a time).
  StepLock lock(fleet, keys);
  // One worker with a 30 s lease: without the fix, what it held unclaimed would stay
  // invisible for 30 s. As many slots as messages: once it holds them all, no long poll is
  // out (a poll out at the kill can still take a handed-back message for the dead process,
  // which nothing can hand back; docs/claim-protocol.md).
  SupervisorProcess sup(fleet, {.workers = 1, .slots = kRuns});
  const pid_t victim = sup.running_pids().at(0);
  ASSERT_TRUE(Fleet::wait_until(
      [&] { return fleet.queue_counts(fleet.queue_url()).in_flight == kRuns; }, seconds(10)))
      << "the worker never received the messages";
  ASSERT_TRUE(Fleet::wait_until([&] { return lock.waiters() >= 1; }, seconds(5)))
      << "the worker's claim never reached PostgreSQL";
  // The receive has returned; give the receiver its moment to record them (it already has
  // with the fix; without it, only the message being claimed is ever recorded).
  Fleet::wait_until([&] { return slots_in_use(sup, 0).size() == kRuns; }, seconds(1));
  const auto held = slots_in_use(sup, 0);
  int received_only = 0;
  for (const auto& h : held) received_only += h.state == shm::ClaimState::kReceived ? 1 : 0;

  const Micros killed_at = now_micros();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(lock.terminate_waiters());
  lock.unlock();

  Micros worst = 0;
  for (const auto& key : keys) {
    ASSERT_TRUE(Fleet::wait_until([&] { return !fleet.attempts_of(key).empty(); }, seconds(10)))
        << key << " was not handed back (it waits for its 30 s lease); queue: visible "
        << fleet.queue_counts(fleet.queue_url()).visible << " in flight "
        << fleet.queue_counts(fleet.queue_url()).in_flight << "; step " << fleet.step(key).status
        << "; held " << held.size() << " (" << received_only << " received only)";
    worst = std::max(worst, fleet.attempts_of(key).at(0).started_at - killed_at);
  }
  RecordProperty("received_recovery_worst_us", std::to_string(worst));
  fmt::print(
      "received but unclaimed: {} of {} held in shm ({} received only); SIGKILL -> "
      "every op running again in {:.1f} ms (lease 30 s)\n",
      held.size(), kRuns, received_only, static_cast<double>(worst) / 1000.0);
  EXPECT_LT(worst, 3'000'000);
  EXPECT_EQ(held.size(), static_cast<std::size_t>(kRuns));
  EXPECT_GE(received_only, kRuns - 1);

  auto recovered = sup.wait_for_event("claims_recovered", seconds(5));
  ASSERT_TRUE(recovered);
  EXPECT_EQ((*recovered)["claims"], kRuns);
  EXPECT_EQ((*recovered)["leases_released"], 0);  // none was claimed in PostgreSQL
  EXPECT_EQ((*recovered)["messages_visible"], kRuns);
  EXPECT_TRUE(fleet.wait_runs(runs, seconds(30)));
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded");
  auto audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
}

// Every path a message can take through the worker (run, failed and retried, poison,
// duplicate on the host, already finished, claim failed, paused hand-back) frees its
// claim slot: with 2 slots, a single leak per path would stall the worker; at the end no
// slot stays taken and the same worker still runs new work.
TEST(SupervisorReceivedRecoveryTest, EveryPathThroughTheWorkerFreesItsSlot) {
  Fleet fleet;
  std::vector<std::string> runs;
  // Claim failure: the step is locked past the worker's 3 s statement timeout, so its claim
  // fails, the message is handed back and the worker pauses until PostgreSQL answers.
  const std::string locked_run = fleet.submit(sleep_job(0.01), 1.0);
  runs.push_back(locked_run);
  auto lock = std::make_unique<StepLock>(fleet, std::vector<std::string>{locked_run + "#sleep"});

  SupervisorProcess sup(fleet, {.workers = 1, .slots = 2});
  const pid_t worker = sup.running_pids().at(0);
  ASSERT_TRUE(sup.wait_for_event("claim_failed", seconds(15)));
  lock.reset();

  // Runs that succeed, and runs whose op fails once and is retried.
  jobs::JobDef flaky = sleep_job(0.01);
  flaky.ops[0].params = jobs::FailParams{.fail_attempts = 1, .always = false, .sleep = {}};
  for (int i = 0; i < 12; ++i) runs.push_back(fleet.submit(sleep_job(0.01), 1.0));
  for (int i = 0; i < 4; ++i) runs.push_back(fleet.submit(flaky, 1.0));
  // Poison: bodies that are not step messages.
  for (int i = 0; i < 3; ++i) {
    sqs::OutgoingMessage m;
    m.body = fmt::format("not a step message {}", i);
    m.group_id = fmt::format("poison-{}", i);
    m.deduplication_id = unique_name("poison");
    fleet.send(fleet.queue_url(), m);
  }
  // A duplicate on the host: a second delivery of a key while its op runs.
  const std::string long_run = fleet.submit(sleep_job(2.0), 1.0);
  runs.push_back(long_run);
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        for (const auto& c : slots_in_use(sup, 0)) {
          if (c.key == long_run + "#sleep" && c.fencing_token > 0) return true;
        }
        return false;
      },
      seconds(20)));
  fleet.send(fleet.queue_url(),
             fleet.step_message(long_run + "#sleep", "dup-group", unique_name("dup")));
  ASSERT_TRUE(Fleet::wait_until([&] { return sup.status().workers.at(0).duplicates_dropped >= 1; },
                                seconds(10)));
  ASSERT_TRUE(fleet.wait_runs(runs, seconds(60)));

  // Already finished: a redelivery of a completed step is deleted without running.
  fleet.send(fleet.queue_url(),
             fleet.step_message(runs.at(1) + "#sleep", "late-group", unique_name("late")));
  ASSERT_TRUE(sup.wait_for_event("finished_step_message_deleted", seconds(15)));

  // Paused while a poll is out: what it brings is handed back (best effort: the poll may
  // return empty first), then resumed.
  sup.process().signal(SIGUSR1);
  const std::string paused_run = fleet.submit(sleep_job(0.01), 1.0);
  runs.push_back(paused_run);
  ASSERT_TRUE(Fleet::wait_until([&] { return !sup.status().receiving; }, seconds(5)));
  // Visible: never received, or received by the poll that was out and handed back.
  ASSERT_TRUE(Fleet::wait_until([&] { return fleet.queue_counts(fleet.queue_url()).visible >= 1; },
                                seconds(5)));
  sup.process().signal(SIGUSR2);

  // Still the same worker, still taking work at full width.
  std::vector<std::string> more;
  for (int i = 0; i < 8; ++i) more.push_back(fleet.submit(sleep_job(0.01), 1.0));
  runs.insert(runs.end(), more.begin(), more.end());
  ASSERT_TRUE(fleet.wait_runs(runs, seconds(60)));
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded") << r;
  EXPECT_EQ(sup.running_pids(), std::vector<pid_t>{worker});
  EXPECT_TRUE(Fleet::wait_until([&] { return slots_in_use(sup, 0).empty(); }, seconds(5)))
      << "a claim slot stayed taken";
  const auto w = sup.status().workers.at(0);
  EXPECT_GE(w.duplicates_dropped, 1u);
  EXPECT_GE(sup.events("poison_message").size(), 3u);
  EXPECT_GE(sup.events("op_failed_will_retry").size(), 4u);
  EXPECT_TRUE(sup.events("host_slot_unavailable").empty());
  fmt::print(
      "paths: {} runs, {} poison, {} duplicates, {} claim failures; slots in use at "
      "the end: {}\n",
      runs.size(), sup.events("poison_message").size(), w.duplicates_dropped,
      sup.events("claim_failed").size(), slots_in_use(sup, 0).size());
  auto audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
}

}  // namespace
}  // namespace opfleet::testing
