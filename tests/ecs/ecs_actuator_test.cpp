// The scaler's ECS actuator against recorded pairs: which calls each operation makes, with
// which payloads (asserted by the replay server), and what it makes of the answers. Waits
// run on a fake clock that the injected sleep advances, so no test sleeps.
#include "scaler/ecs_actuator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/ecs/replay_client.h"
#include "tests/ecs/replay_server.h"

namespace opfleet::scaler {
namespace {

using opfleet::testing::EcsReplayServer;
using opfleet::testing::ReplayClient;

const std::string kTaskA =
    "arn:aws:ecs:us-east-1:123456789012:task/opfleet/0a1b2c3d4e5f40718293a4b5c6d7e8f9";
const std::string kTaskC =
    "arn:aws:ecs:us-east-1:123456789012:task/opfleet/2c3d4e5f6071829304b5c6d7e8f90a1b";
const std::string kTaskD =
    "arn:aws:ecs:us-east-1:123456789012:task/opfleet/3d4e5f607182930415c6d7e8f90a1b2c";
const std::string kInstanceC =
    "arn:aws:ecs:us-east-1:123456789012:container-instance/opfleet/"
    "ae5d8c2a4b6f403d9c7e5f3a2b4c6d8e";

// The actuator's environment: its client on the replay server, a fake clock that only the
// sleeps move, and a picker that records the choices offered and takes a fixed index.
struct Harness {
  explicit Harness(const char* scenario) : server(scenario) {}

  EcsActuator make(std::size_t pick_index = 0) {
    EcsActuatorOptions o;
    o.cluster = "opfleet";
    o.service = "opfleet-worker";
    o.poll_interval = Millis(5000);
    o.pick = [this, pick_index](std::size_t n) {
      offered.push_back(n);
      return pick_index;
    };
    o.sleep = [this](Millis d) {
      waits.push_back(d);
      now += d;
      return true;
    };
    o.now = [this] { return now; };
    auto a = EcsActuator::make(rc.make(server), std::move(o));
    if (!a) throw std::runtime_error(a.error().describe());
    return std::move(*a);
  }

  EcsReplayServer server;
  ReplayClient rc;
  SteadyClock::time_point now{};
  std::vector<Millis> waits;
  std::vector<std::size_t> offered;
};

TEST(EcsActuator, ReadsCountsAndSetsTheDesiredCount) {
  Harness h("actuator_read_set");
  EcsActuator a = h.make();
  EXPECT_EQ(a.name(), "ecs");
  auto reading = a.read();
  ASSERT_TRUE(reading) << reading.error().describe();
  EXPECT_EQ(reading->desired, 4);
  EXPECT_EQ(reading->running, 3);
  EXPECT_EQ(reading->pending, 1);
  EXPECT_EQ(reading->capacity().current, 3);
  EXPECT_EQ(reading->capacity().desired, 4);
  auto set = a.set_desired(6, "visible 40 > 4 workers * 5");
  ASSERT_TRUE(set) << set.error().describe();
  EXPECT_TRUE(h.server.verify());
}

TEST(EcsActuator, NegativeDesiredCountIsRefusedWithoutACall) {
  Harness h("actuator_read_set");
  EcsActuator a = h.make();
  auto set = a.set_desired(-1, "bug");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(h.server.served(), 0u);
}

TEST(EcsActuator, ReadOfAnInactiveServiceIsNotFound) {
  Harness h("actuator_read_inactive");
  EcsActuator a = h.make();
  auto reading = a.read();
  ASSERT_FALSE(reading);
  EXPECT_EQ(reading.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(reading.error().message.find("INACTIVE"), std::string::npos);
  EXPECT_TRUE(h.server.verify());
}

TEST(EcsActuator, KillStopsARandomRunningTaskAmongEveryPage) {
  Harness h("actuator_kill");
  // Of the four tasks listed (two pages), three are RUNNING (a, c, d) and one PENDING:
  // the pick is among those three, and index 1 is task c.
  EcsActuator a = h.make(/*pick_index=*/1);
  auto killed = a.kill_random_worker();
  ASSERT_TRUE(killed) << killed.error().describe();
  EXPECT_EQ(*killed, kTaskC);
  EXPECT_EQ(h.offered, (std::vector<std::size_t>{3}));
  EXPECT_TRUE(h.server.verify());  // StopTask carried task c and the simulation reason
}

TEST(EcsActuator, KillWithNoRunningTaskStopsNothing) {
  Harness h("actuator_kill_none_running");
  EcsActuator a = h.make();
  auto killed = a.kill_random_worker();
  ASSERT_FALSE(killed);
  EXPECT_EQ(killed.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(killed.error().message.find("1 starting"), std::string::npos) << killed.error().message;
  EXPECT_TRUE(h.offered.empty());
  EXPECT_TRUE(h.server.verify());  // no StopTask was sent
}

TEST(EcsActuator, FleetDrainGoesToZeroWaitsForSteadyStateAndRestores) {
  Harness h("actuator_drain_fleet");
  EcsActuator a = h.make();
  auto ticket = a.drain({DrainScope::kFleet, Millis(60000)});
  ASSERT_TRUE(ticket) << ticket.error().describe();
  EXPECT_EQ(ticket->scope, DrainScope::kFleet);
  EXPECT_EQ(ticket->target, "opfleet-worker");
  EXPECT_EQ(ticket->previous_desired, 4);
  EXPECT_TRUE(ticket->settled);
  EXPECT_FALSE(ticket->wait_error);
  // Running 2 at the first poll, 0 at the second: one poll interval waited.
  EXPECT_EQ(h.waits, (std::vector<Millis>{Millis(5000)}));
  EXPECT_EQ(ticket->waited, Millis(5000));

  auto restored = a.restore(*ticket);
  ASSERT_TRUE(restored) << restored.error().describe();
  EXPECT_TRUE(h.server.verify());  // UpdateService 0, then back to 4
}

TEST(EcsActuator, FleetDrainStopsWaitingAtTheDeadlineAndStillRestores) {
  Harness h("actuator_drain_fleet_timeout");
  EcsActuator a = h.make();
  // 10 s: polls at 0, 5 and 10 s (running 3, 2, 1), then the deadline.
  auto ticket = a.drain({DrainScope::kFleet, Millis(10000)});
  ASSERT_TRUE(ticket) << ticket.error().describe();
  EXPECT_FALSE(ticket->settled);
  EXPECT_FALSE(ticket->wait_error);
  EXPECT_EQ(ticket->previous_desired, 3);
  EXPECT_EQ(h.waits, (std::vector<Millis>{Millis(5000), Millis(5000)}));
  EXPECT_EQ(ticket->waited, Millis(10000));
  ASSERT_TRUE(a.restore(*ticket));
  EXPECT_TRUE(h.server.verify());
}

TEST(EcsActuator, HostDrainPicksAnInstanceRunningTheServiceAndWaitsForItsTasksToLeave) {
  Harness h("actuator_drain_host");
  // Three ACTIVE instances, the service's tasks on b and c: the pick is among those two,
  // and index 1 is c.
  EcsActuator a = h.make(/*pick_index=*/1);
  auto ticket = a.drain({DrainScope::kHost, Millis(60000)});
  ASSERT_TRUE(ticket) << ticket.error().describe();
  EXPECT_EQ(h.offered, (std::vector<std::size_t>{2}));
  EXPECT_EQ(ticket->scope, DrainScope::kHost);
  EXPECT_EQ(ticket->target, kInstanceC);
  // The first poll still found the service's task there; the second found only another
  // service's daemon task, which does not count.
  EXPECT_TRUE(ticket->settled);
  EXPECT_EQ(h.waits, (std::vector<Millis>{Millis(5000)}));
  auto restored = a.restore(*ticket);
  ASSERT_TRUE(restored) << restored.error().describe();
  EXPECT_TRUE(h.server.verify());  // DRAINING, then ACTIVE, on instance c only
}

TEST(EcsActuator, HostDrainOnAFargateClusterFailsWithoutChangingAnything) {
  Harness h("actuator_drain_host_fargate");
  EcsActuator a = h.make();
  auto ticket = a.drain({DrainScope::kHost, Millis(60000)});
  ASSERT_FALSE(ticket);
  EXPECT_EQ(ticket.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(ticket.error().message.find("Fargate"), std::string::npos);
  EXPECT_TRUE(h.server.verify());
}

TEST(EcsActuator, RestoreRefusesATicketOfAnotherService) {
  Harness h("actuator_read_set");
  EcsActuator a = h.make();
  DrainTicket other;
  other.scope = DrainScope::kFleet;
  other.target = "someone-else";
  other.previous_desired = 9;
  auto r = a.restore(other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(h.server.served(), 0u);
}

TEST(EcsActuator, NeedsAClusterAndAService) {
  EcsReplayServer server("actuator_read_set");
  ReplayClient rc;
  EcsActuatorOptions o;
  o.service = "opfleet-worker";
  EXPECT_EQ(EcsActuator::make(rc.make(server), o).error().kind, ErrorKind::kInvalid);
  o.cluster = "opfleet";
  o.service.clear();
  EXPECT_EQ(EcsActuator::make(rc.make(server), o).error().kind, ErrorKind::kInvalid);
}

TEST(EcsActuator, UniformPickerCoversTheWholeRangeAndNothingElse) {
  auto pick = uniform_picker(/*seed=*/42);
  std::vector<int> hits(5, 0);
  for (int i = 0; i < 1000; ++i) {
    const std::size_t k = pick(hits.size());
    ASSERT_LT(k, hits.size());
    ++hits[k];
  }
  for (std::size_t k = 0; k < hits.size(); ++k) EXPECT_GT(hits[k], 100) << k;
  EXPECT_EQ(pick(1), 0u);
}

}  // namespace
}  // namespace opfleet::scaler
