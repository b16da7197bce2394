// The failure simulation's schedule and bookkeeping, on a fake clock, a recording fake
// actuator and a fake netfault control socket (the real ones: scaler_e2e_test).
#include "scaler/fault_injector.h"

#include <gtest/gtest.h>

#include <deque>

namespace opfleet::scaler {
namespace {

using namespace std::chrono_literals;

struct FakeActuator final : Actuator {
  std::vector<std::string> calls;
  bool kill_fails = false;
  std::string_view name() const override { return "fake"; }
  Result<CapacityReading> read() override { return CapacityReading{2, 2, 0}; }
  Status set_desired(int n, const std::string&) override {
    calls.push_back("set " + std::to_string(n));
    return ok();
  }
  Result<std::string> kill_random_worker() override {
    calls.push_back("kill");
    if (kill_fails) return fail(Error::not_found("no worker is running"));
    return std::string("i/42");
  }
  Result<DrainTicket> drain(const DrainOptions& o) override {
    calls.push_back(std::string("drain ") + to_string(o.scope));
    DrainTicket t;
    t.scope = o.scope;
    t.target = o.scope == DrainScope::kHost ? "i" : "";
    t.settled = true;
    t.waited = 500ms;
    return t;
  }
  Status restore(const DrainTicket& t) override {
    calls.push_back("restore " + t.target);
    return ok();
  }
};

struct Fixture {
  FakeActuator actuator;
  std::deque<double> draws;  // what uniform01 returns, in order (0.5 when empty)
  std::vector<std::string> commands;
  std::string failing_socket;
  SteadyClock::time_point t0{std::chrono::hours(1)};

  FaultInjector make(const FaultOptions& o) {
    return FaultInjector(
        o, actuator,
        [this] {
          if (draws.empty()) return 0.5;
          double d = draws.front();
          draws.pop_front();
          return d;
        },
        [this](const std::string& path, std::string_view cmd) -> Result<std::string> {
          commands.push_back(path + " " + std::string(cmd));
          if (path == failing_socket) return fail(Error::network("connection refused"));
          return std::string(cmd == "restore" ? "pass" : cmd);
        },
        t0);
  }
};

FaultSchedule every(Millis interval, double jitter = 0, double probability = 1) {
  return FaultSchedule{true, interval, jitter, probability};
}

TEST(FaultInjector, EverythingIsOffByDefault) {
  Fixture f;
  FaultOptions o;
  EXPECT_FALSE(o.any_enabled());
  EXPECT_TRUE(o.validate());
  auto inj = f.make(o);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(inj.tick(f.t0 + std::chrono::minutes(i)).empty());
  EXPECT_TRUE(f.actuator.calls.empty());
  EXPECT_TRUE(f.commands.empty());
  EXPECT_FALSE(inj.next_due(FaultKind::kKillWorker));
}

TEST(FaultInjector, KillsOncePerIntervalAndRecordsTheVictim) {
  Fixture f;
  FaultOptions o;
  o.kill = every(10s);
  auto inj = f.make(o);
  EXPECT_TRUE(inj.tick(f.t0 + 9999ms).empty());
  auto ev = inj.tick(f.t0 + 10s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "kill_worker");
  EXPECT_TRUE(ev[0].ok);
  EXPECT_EQ(ev[0].details["worker"], "i/42");
  EXPECT_TRUE(inj.tick(f.t0 + 19s).empty());
  EXPECT_EQ(inj.tick(f.t0 + 20s).size(), 1u);
  EXPECT_EQ(f.actuator.calls, (std::vector<std::string>{"kill", "kill"}));
}

TEST(FaultInjector, JitterSpreadsTheIntervalBothWays) {
  Fixture f;
  FaultOptions o;
  o.kill = every(10s, 0.5);
  f.draws = {0.0};  // factor 1 - 0.5 = 0.5
  auto early = f.make(o);
  EXPECT_EQ(*early.next_due(FaultKind::kKillWorker), f.t0 + 5s);
  f.draws = {0.999};  // factor just under 1.5
  auto late = f.make(o);
  EXPECT_GT(*late.next_due(FaultKind::kKillWorker), f.t0 + 14900ms);
  EXPECT_LT(*late.next_due(FaultKind::kKillWorker), f.t0 + 15s);
}

TEST(FaultInjector, ProbabilitySkipsSomeDueFaults) {
  Fixture f;
  FaultOptions o;
  o.kill = every(1s, 0, 0.25);
  auto inj = f.make(o);
  f.draws = {0.9};  // no: 0.9 >= 0.25
  auto ev = inj.tick(f.t0 + 1s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "skipped");
  f.draws = {0.1};  // yes
  ev = inj.tick(f.t0 + 2s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "kill_worker");
  EXPECT_EQ(f.actuator.calls, (std::vector<std::string>{"kill"}));
}

TEST(FaultInjector, AFailedKillIsAnErrorEventAndTheScheduleGoesOn) {
  Fixture f;
  f.actuator.kill_fails = true;
  FaultOptions o;
  o.kill = every(1s);
  auto inj = f.make(o);
  auto ev = inj.tick(f.t0 + 1s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].ok);
  EXPECT_NE(ev[0].reason.find("no worker"), std::string::npos);
  EXPECT_EQ(*inj.next_due(FaultKind::kKillWorker), f.t0 + 2s);
}

TEST(FaultInjector, DrainHoldsForItsDurationAfterSettlingThenRestores) {
  Fixture f;
  FaultOptions o;
  o.drain = every(60s);
  o.drain_scope = DrainScope::kHost;
  o.drain_duration = 5s;
  auto inj = f.make(o);
  auto ev = inj.tick(f.t0 + 60s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "drain");
  EXPECT_EQ(ev[0].details["target"], "i");
  EXPECT_TRUE(ev[0].details["settled"]);
  EXPECT_TRUE(inj.drain_active());
  EXPECT_FALSE(inj.next_due(FaultKind::kDrain)) << "no second drain while one is on";
  // Held 5 s from the moment it settled (the fake waited 500 ms).
  EXPECT_TRUE(inj.tick(f.t0 + 65s).empty());
  ev = inj.tick(f.t0 + 65500ms);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "restore");
  EXPECT_FALSE(inj.drain_active());
  EXPECT_EQ(*inj.next_due(FaultKind::kDrain), f.t0 + 65500ms + 60s);
  EXPECT_EQ(f.actuator.calls, (std::vector<std::string>{"drain host", "restore i"}));
}

TEST(FaultInjector, PartitionCutsEveryTargetSocketAndHealsThem) {
  Fixture f;
  FaultOptions o;
  o.partition = every(30s);
  o.partition_duration = 3s;
  o.sqs_control = "/s";
  o.pg_control = "/p";
  auto inj = f.make(o);
  auto ev = inj.tick(f.t0 + 30s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "partition");
  EXPECT_TRUE(inj.partition_active());
  ev = inj.tick(f.t0 + 33s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "heal");
  EXPECT_TRUE(ev[0].ok);
  EXPECT_EQ(f.commands,
            (std::vector<std::string>{"/s blackhole", "/p blackhole", "/s restore", "/p restore"}));
}

TEST(FaultInjector, AHalfMadePartitionIsUndone) {
  Fixture f;
  FaultOptions o;
  o.partition = every(1s);
  o.partition_mode = "reject";
  o.sqs_control = "/s";
  o.pg_control = "/p";
  f.failing_socket = "/p";
  auto inj = f.make(o);
  auto ev = inj.tick(f.t0 + 1s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].ok);
  EXPECT_FALSE(inj.partition_active());
  EXPECT_EQ(f.commands, (std::vector<std::string>{"/s reject", "/p reject", "/s restore"}));
}

TEST(FaultInjector, StopEndsWhatIsInProgress) {
  Fixture f;
  FaultOptions o;
  o.drain = every(1s);
  o.partition = every(1s);
  o.partition_target = PartitionTarget::kSqs;
  o.sqs_control = "/s";
  auto inj = f.make(o);
  EXPECT_EQ(inj.tick(f.t0 + 1s).size(), 2u);
  auto ev = inj.stop();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].action, "restore");
  EXPECT_EQ(ev[1].action, "heal");
  EXPECT_FALSE(inj.drain_active());
  EXPECT_FALSE(inj.partition_active());
  EXPECT_TRUE(inj.tick(f.t0 + std::chrono::hours(1)).empty());
}

TEST(FaultOptions, ValidateRefusesAPartitionWithoutItsSocket) {
  FaultOptions o;
  o.partition = every(1s);
  o.partition_target = PartitionTarget::kPg;
  EXPECT_FALSE(o.validate());
  o.pg_control = "/p";
  EXPECT_TRUE(o.validate());
  o.partition_target = PartitionTarget::kBoth;
  EXPECT_FALSE(o.validate());
  o.kill = every(0ms);
  o.sqs_control = "/s";
  EXPECT_FALSE(o.validate());
  o.kill = every(1s, 0, 0);
  EXPECT_FALSE(o.validate());
}

}  // namespace
}  // namespace opfleet::scaler
