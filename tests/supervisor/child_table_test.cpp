// The child table's rules, driven by a fake clock: restarts, backoff, crash loops, fatal
// configuration, hung workers, scaling and rolling restarts.
#include <gtest/gtest.h>

#include <vector>

#include "supervisor/child_table.h"

namespace opfleet::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = Action::Kind;

RestartPolicy test_policy() {
  RestartPolicy p;
  p.backoff_base = milliseconds(100);
  p.backoff_cap = milliseconds(1000);
  p.stable_after = seconds(10);
  p.crash_loop_max = 3;
  p.crash_loop_window = seconds(60);
  p.hold_back = seconds(30);
  p.hung_after = seconds(5);
  p.kill_grace = seconds(2);
  p.drain_kill_after = seconds(20);
  return p;
}

constexpr ExitStatus kExit0{false, 0};
constexpr ExitStatus kExit1{false, 1};
constexpr ExitStatus kExitConfig{false, 78};
constexpr ExitStatus kKilled{true, 9};

class ChildTableTest : public ::testing::Test {
 protected:
  ChildTableTest() : table(8, test_policy()), obs(8) {}

  // Runs plan() and answers every spawn with a fresh pid.
  std::vector<Action> plan() {
    auto actions = table.plan(now, obs);
    for (const auto& a : actions) {
      if (a.kind == Kind::kSpawn) table.on_spawned(a.slot, next_pid++, a.generation, now);
    }
    return actions;
  }
  // Marks every live process attached with a fresh heartbeat.
  void attach_all() {
    for (int i = 0; i < table.capacity(); ++i) {
      obs[static_cast<std::size_t>(i)].attached = table.at(i).has_process();
      obs[static_cast<std::size_t>(i)].heartbeat = now;
    }
  }
  void beat_all() {
    for (auto& o : obs) o.heartbeat = now;
  }
  void advance(milliseconds d) { now += d; }
  std::vector<Action> of_kind(const std::vector<Action>& v, Kind k) {
    std::vector<Action> out;
    for (const auto& a : v) {
      if (a.kind == k) out.push_back(a);
    }
    return out;
  }
  // Brings up `n` attached workers.
  void start(int n) {
    table.set_desired(n);
    plan();
    attach_all();
    plan();
  }

  ChildTable table;
  std::vector<SlotObservation> obs;
  TimePoint now{seconds(1000)};
  pid_t next_pid = 100;
};

TEST_F(ChildTableTest, SpawnsTheDesiredWorkersInTheLowestSlots) {
  table.set_desired(3);
  auto actions = plan();
  ASSERT_EQ(actions.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(actions[static_cast<std::size_t>(i)],
              (Action{Kind::kSpawn, i, 0, 1, StopReason::kNone}));
  }
  EXPECT_FALSE(table.all_up());
  EXPECT_EQ(table.count(ChildState::kStarting), 3);
  attach_all();
  EXPECT_TRUE(plan().empty());
  EXPECT_TRUE(table.all_up());
  EXPECT_EQ(table.count(ChildState::kRunning), 3);
}

TEST_F(ChildTableTest, ACrashRestartsAtOnceThenBacksOffExponentially) {
  start(1);
  advance(seconds(1));
  auto d = table.on_exit(table.at(0).pid, kKilled, now);
  EXPECT_EQ(d.slot, 0);
  EXPECT_EQ(d.kind, ExitKind::kCrash);
  ASSERT_TRUE(d.restart_at.has_value());
  EXPECT_EQ(*d.restart_at, now);  // first crash: immediately
  auto actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0], (Action{Kind::kSpawn, 0, 0, 2, StopReason::kNone}));
  EXPECT_EQ(table.at(0).restarts, 1u);

  // Second crash soon after: base; third: 2 * base.
  advance(milliseconds(50));
  d = table.on_exit(table.at(0).pid, kExit1, now);
  EXPECT_EQ(*d.restart_at - now, milliseconds(100));
  EXPECT_TRUE(plan().empty());  // not yet
  EXPECT_EQ(table.next_deadline(), now + milliseconds(100));
  advance(milliseconds(100));
  EXPECT_EQ(of_kind(plan(), Kind::kSpawn).size(), 1u);
  advance(milliseconds(50));
  d = table.on_exit(table.at(0).pid, kExit1, now);
  EXPECT_EQ(*d.restart_at - now, milliseconds(200));
}

TEST_F(ChildTableTest, BackoffIsCappedAndResetByAStableRun) {
  RestartPolicy p = test_policy();
  p.crash_loop_max = 100;  // only the backoff matters here
  table.set_policy(p);
  start(1);
  std::vector<milliseconds> delays;
  for (int i = 0; i < 7; ++i) {
    advance(milliseconds(10));
    auto d = table.on_exit(table.at(0).pid, kExit1, now);
    delays.push_back(std::chrono::duration_cast<milliseconds>(*d.restart_at - now));
    now = *d.restart_at;
    plan();
  }
  EXPECT_EQ(delays, (std::vector<milliseconds>{
                        milliseconds(0), milliseconds(100), milliseconds(200), milliseconds(400),
                        milliseconds(800), milliseconds(1000), milliseconds(1000)}));
  // Up for longer than stable_after: the next crash restarts at once again.
  attach_all();
  advance(seconds(11));
  beat_all();
  plan();
  auto d = table.on_exit(table.at(0).pid, kExit1, now);
  EXPECT_EQ(*d.restart_at, now);
}

TEST_F(ChildTableTest, ACrashLoopHoldsTheSlotBackThenTriesAgain) {
  start(1);
  ExitDecision d;
  for (int i = 0; i < 4; ++i) {  // crash_loop_max = 3: the 4th crash in the window holds
    advance(milliseconds(10));
    d = table.on_exit(table.at(0).pid, kExit1, now);
    if (i < 3) {
      EXPECT_FALSE(d.held_back) << i;
      now = std::max(now, *d.restart_at);
      ASSERT_EQ(of_kind(plan(), Kind::kSpawn).size(), 1u);
    }
  }
  EXPECT_TRUE(d.held_back);
  EXPECT_EQ(table.at(0).state, ChildState::kHeldBack);
  EXPECT_EQ(*d.restart_at, now + seconds(30));
  advance(seconds(29));
  EXPECT_TRUE(plan().empty());
  EXPECT_EQ(table.active(), 1);  // still counts: no other slot is started instead
  advance(seconds(1));
  auto actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kSpawn);
  EXPECT_EQ(actions[0].slot, 0);
}

TEST_F(ChildTableTest, CrashesOutsideTheWindowDoNotCount) {
  start(1);
  for (int i = 0; i < 6; ++i) {
    advance(seconds(25));  // never more than 3 crashes within 60 s
    beat_all();
    auto d = table.on_exit(table.at(0).pid, kExit1, now);
    EXPECT_FALSE(d.held_back) << i;
    now = *d.restart_at;
    plan();
  }
}

TEST_F(ChildTableTest, ExitCode78IsFatalAndNeverRestarted) {
  start(2);
  auto d = table.on_exit(table.at(1).pid, kExitConfig, now);
  EXPECT_EQ(d.kind, ExitKind::kFatalConfig);
  EXPECT_FALSE(d.restart_at.has_value());
  EXPECT_EQ(table.at(1).state, ChildState::kEmpty);
}

TEST_F(ChildTableTest, UnknownPidsAreIgnored) {
  start(1);
  EXPECT_EQ(table.on_exit(4242, kExit0, now).slot, -1);
}

TEST_F(ChildTableTest, AnUnaskedCleanExitIsACrash) {
  start(1);
  auto d = table.on_exit(table.at(0).pid, kExit0, now);
  EXPECT_EQ(d.kind, ExitKind::kCrash);
  EXPECT_TRUE(d.restart_at.has_value());
}

TEST_F(ChildTableTest, AHungWorkerIsTerminatedKilledAndReplacedInItsSlot) {
  start(2);
  advance(seconds(4));
  obs[0].heartbeat = now;  // worker 0 beats, worker 1 stopped beating at the start
  EXPECT_TRUE(plan().empty());
  advance(milliseconds(1500));
  obs[0].heartbeat = now;
  auto actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  const pid_t hung = table.at(1).pid;
  EXPECT_EQ(actions[0], (Action{Kind::kTerminate, 1, hung, 1, StopReason::kHung}));
  EXPECT_EQ(table.active(), 2);  // still counts: no extra worker is started meanwhile
  advance(seconds(1));
  obs[0].heartbeat = now;
  EXPECT_TRUE(plan().empty());
  advance(seconds(1));
  obs[0].heartbeat = now;
  actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0], (Action{Kind::kKill, 1, hung, 1, StopReason::kHung}));
  auto d = table.on_exit(hung, kKilled, now);
  EXPECT_EQ(d.kind, ExitKind::kCrash);
  actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0], (Action{Kind::kSpawn, 1, 0, 2, StopReason::kNone}));
}

TEST_F(ChildTableTest, AWorkerThatNeverAttachesIsHung) {
  table.set_desired(1);
  plan();
  advance(seconds(6));
  auto actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kTerminate);
  EXPECT_EQ(actions[0].reason, StopReason::kHung);
}

TEST_F(ChildTableTest, ScaleInDrainsIdleWorkersFirst) {
  start(4);
  obs[0].busy = 2;
  obs[1].busy = 0;
  obs[2].busy = 1;
  obs[3].busy = 3;
  table.set_desired(2);
  auto actions = plan();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0], (Action{Kind::kTerminate, 1, table.at(1).pid, 1, StopReason::kScaleIn}));
  EXPECT_EQ(actions[1], (Action{Kind::kTerminate, 2, table.at(2).pid, 1, StopReason::kScaleIn}));
  EXPECT_EQ(table.active(), 2);
  // The drained worker exits cleanly: its slot is freed, nothing restarts.
  auto d = table.on_exit(table.at(1).pid, kExit0, now);
  EXPECT_EQ(d.kind, ExitKind::kClean);
  EXPECT_EQ(d.reason, StopReason::kScaleIn);
  EXPECT_EQ(table.at(1).state, ChildState::kEmpty);
  EXPECT_TRUE(plan().empty());
}

TEST_F(ChildTableTest, ScaleInDropsAPendingRestartBeforeStoppingAnyProcess) {
  start(3);
  advance(milliseconds(10));
  table.on_exit(table.at(0).pid, kExit1, now);
  plan();  // restarted at once
  advance(milliseconds(10));
  table.on_exit(table.at(0).pid, kExit1, now);  // now waiting 100 ms
  EXPECT_EQ(table.at(0).state, ChildState::kWaitingRestart);
  table.set_desired(2);
  EXPECT_TRUE(plan().empty());  // no signal: the waiting slot just goes
  EXPECT_EQ(table.at(0).state, ChildState::kEmpty);
  EXPECT_EQ(table.active(), 2);
}

TEST_F(ChildTableTest, ScaleOutFillsTheLowestFreeSlots) {
  start(3);
  table.set_desired(2);
  obs[0].busy = obs[2].busy = 1;
  plan();  // slot 1 drains
  table.set_desired(4);
  auto spawns = of_kind(plan(), Kind::kSpawn);
  ASSERT_EQ(spawns.size(), 2u);
  EXPECT_EQ(spawns[0].slot, 3);  // slot 1 is still draining
  EXPECT_EQ(spawns[1].slot, 4);
}

TEST_F(ChildTableTest, RollingRestartReplacesOneWorkerAtATime) {
  start(3);
  obs[0].busy = 1;
  obs[1].busy = 0;
  obs[2].busy = 2;
  table.bump_config_version();
  // The idle worker goes first; its replacement starts in a free slot at once.
  auto actions = plan();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0], (Action{Kind::kTerminate, 1, table.at(1).pid, 1, StopReason::kReplace}));
  EXPECT_EQ(actions[1].kind, Kind::kSpawn);
  EXPECT_EQ(actions[1].slot, 3);
  // Nothing more until the replacement is up.
  EXPECT_TRUE(plan().empty());
  obs[3] = {true, now, 0};
  actions = plan();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0], (Action{Kind::kTerminate, 0, table.at(0).pid, 1, StopReason::kReplace}));
  EXPECT_EQ(actions[1].kind, Kind::kSpawn);
  obs[static_cast<std::size_t>(actions[1].slot)] = {true, now, 0};
  actions = plan();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].slot, 2);
  obs[static_cast<std::size_t>(actions[1].slot)] = {true, now, 0};
  EXPECT_TRUE(plan().empty());  // all replaced
  EXPECT_EQ(table.count(ChildState::kStopping), 3);
  EXPECT_EQ(table.count(ChildState::kRunning), 3);
  // Retired workers exit after their drain: no restart.
  auto d = table.on_exit(table.at(1).pid, kExit0, now);
  EXPECT_EQ(d.kind, ExitKind::kClean);
  EXPECT_EQ(d.reason, StopReason::kReplace);
  EXPECT_TRUE(plan().empty());
}

TEST_F(ChildTableTest, ShutdownDrainsThenEscalates) {
  start(2);
  auto actions = table.begin_shutdown(false, now);
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, Kind::kTerminate);
  EXPECT_EQ(actions[0].reason, StopReason::kDrain);
  EXPECT_TRUE(plan().empty());
  // A worker crashing during the drain is not restarted.
  auto d = table.on_exit(table.at(0).pid, kKilled, now);
  EXPECT_FALSE(d.restart_at.has_value());
  EXPECT_TRUE(plan().empty());
  // Second signal: hand back now.
  actions = table.begin_shutdown(true, now);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kInterrupt);
  EXPECT_EQ(actions[0].slot, 1);
  advance(seconds(2));
  actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kKill);
  EXPECT_EQ(table.processes(), 1);
  table.on_exit(table.at(1).pid, kKilled, now);
  EXPECT_EQ(table.processes(), 0);
  EXPECT_FALSE(table.all_up());
}

TEST_F(ChildTableTest, ADrainThatOverrunsIsKilled) {
  start(1);
  table.begin_shutdown(false, now);
  advance(seconds(19));
  EXPECT_TRUE(plan().empty());
  EXPECT_EQ(table.next_deadline(), now + seconds(1));
  advance(seconds(1));
  auto actions = plan();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kKill);
  EXPECT_TRUE(plan().empty());  // sent once
}

TEST_F(ChildTableTest, AFailedForkBacksOffLikeACrash) {
  table.set_desired(1);
  auto actions = table.plan(now, obs);
  ASSERT_EQ(actions.size(), 1u);
  table.on_spawn_failed(0, actions[0].generation, now);
  EXPECT_EQ(table.at(0).state, ChildState::kWaitingRestart);
  actions = table.plan(now, obs);  // first failure: retried at once
  ASSERT_EQ(actions.size(), 1u);
  table.on_spawn_failed(0, actions[0].generation, now);
  EXPECT_TRUE(table.plan(now, obs).empty());  // second: after the base delay
}

TEST(ExitStatusTest, DecodesWaitStatuses) {
  EXPECT_EQ(ExitStatus::from_wait_status(0).code, 0);
  EXPECT_FALSE(ExitStatus::from_wait_status(78 << 8).signaled);
  EXPECT_EQ(ExitStatus::from_wait_status(78 << 8).code, 78);
  EXPECT_TRUE(ExitStatus::from_wait_status(9).signaled);
  EXPECT_EQ(ExitStatus::from_wait_status(9).code, 9);
}

}  // namespace
}  // namespace opfleet::supervisor
