// Task scale-in protection: the planner's decisions by table, and the requests against
// a stand-in for the ECS agent (tests/support/http_server.h), payloads asserted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/ecs_protection.h"
#include "tests/support/http_server.h"

namespace opfleet::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr ProtectionRequest kEnable{true, 10};
constexpr ProtectionRequest kDisable{false, 0};

ProtectionPolicy policy() {
  ProtectionPolicy p;
  p.expires_minutes = 10;
  p.idle_grace = seconds(5);
  p.retry_base = seconds(1);
  p.retry_cap = seconds(4);
  return p;
}

TEST(ProtectionPlannerTest, ClearsAnUnknownStateAtStartWhenIdle) {
  ProtectionPlanner p(policy());
  TimePoint t{seconds(100)};
  EXPECT_EQ(p.next(t, false), kDisable);
  p.on_result(kDisable, true, t);
  EXPECT_EQ(p.enabled(), false);
  EXPECT_EQ(p.next(t + seconds(1), false), std::nullopt);
}

TEST(ProtectionPlannerTest, ProtectsWhileBusyRenewsAtHalfLifeAndDropsAfterTheGrace) {
  ProtectionPlanner p(policy());
  TimePoint t{seconds(100)};
  p.on_result(kDisable, true, t);
  EXPECT_EQ(p.next(t, true), kEnable);
  p.on_result(kEnable, true, t);
  EXPECT_EQ(p.enabled(), true);
  EXPECT_EQ(p.next(t + minutes(4), true), std::nullopt);
  EXPECT_EQ(p.next(t + minutes(5), true), kEnable);  // renewal
  p.on_result(kEnable, true, t + minutes(5));
  // Idle: nothing during the grace (an op may follow at once), then off.
  const TimePoint idle = t + minutes(6);
  EXPECT_EQ(p.next(idle, false), std::nullopt);
  EXPECT_EQ(p.next(idle + seconds(4), false), std::nullopt);
  EXPECT_EQ(p.next(idle + seconds(5), false), kDisable);
  p.on_result(kDisable, true, idle + seconds(5));
  EXPECT_EQ(p.next(idle + seconds(6), false), std::nullopt);
}

TEST(ProtectionPlannerTest, BusyAgainDuringTheGraceKeepsProtection) {
  ProtectionPlanner p(policy());
  TimePoint t{seconds(100)};
  p.on_result(kEnable, true, t);
  EXPECT_EQ(p.next(t + seconds(1), false), std::nullopt);
  EXPECT_EQ(p.next(t + seconds(3), true), std::nullopt);
  EXPECT_EQ(p.next(t + seconds(7), false), std::nullopt);  // the grace restarted at 7 s
  EXPECT_EQ(p.next(t + seconds(12), false), kDisable);
}

TEST(ProtectionPlannerTest, RetriesFailuresWithBackoff) {
  ProtectionPlanner p(policy());
  TimePoint t{seconds(100)};
  p.on_result(kDisable, true, t);
  EXPECT_EQ(p.next(t, true), kEnable);
  p.on_result(kEnable, false, t);
  EXPECT_EQ(p.next(t + milliseconds(999), true), std::nullopt);
  EXPECT_EQ(p.next(t + seconds(1), true), kEnable);
  p.on_result(kEnable, false, t + seconds(1));
  EXPECT_EQ(p.next(t + seconds(2), true), std::nullopt);
  EXPECT_EQ(p.next(t + seconds(3), true), kEnable);  // 2 s later
  p.on_result(kEnable, false, t + seconds(3));
  p.on_result(kEnable, false, t + seconds(7));
  EXPECT_EQ(p.next(t + seconds(10), true), std::nullopt);
  EXPECT_EQ(p.next(t + seconds(11), true), kEnable);  // capped at 4 s
}

TEST(ProtectionPlannerTest, BodiesMatchTheAgentApi) {
  EXPECT_EQ(nlohmann::json::parse(protection_body(kEnable)),
            nlohmann::json({{"ProtectionEnabled", true}, {"ExpiresInMinutes", 10}}));
  EXPECT_EQ(nlohmann::json::parse(protection_body(kDisable)),
            nlohmann::json({{"ProtectionEnabled", false}}));
}

TEST(EcsProtectionTest, PutsTheStateToTheAgent) {
  opfleet::testing::HttpServer agent([](const opfleet::testing::HttpServerRequest& r) {
    auto body = nlohmann::json::parse(r.body);
    return opfleet::testing::HttpServerResponse::json(
        nlohmann::json({{"protection", {{"ProtectionEnabled", body["ProtectionEnabled"]}}}})
            .dump());
  });
  EcsProtection p(agent.base_url(), policy());
  TimePoint t = Clock::now();
  p.update(t, false);  // unknown -> off
  p.update(t, true);
  p.update(t + seconds(1), true);  // no request: still protected
  p.update(t + seconds(2), false);
  p.update(t + seconds(8), false);
  auto requests = agent.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.path, "/task-protection/v1/state");
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
  EXPECT_EQ(nlohmann::json::parse(requests[0].body),
            nlohmann::json({{"ProtectionEnabled", false}}));
  EXPECT_EQ(nlohmann::json::parse(requests[1].body),
            nlohmann::json({{"ProtectionEnabled", true}, {"ExpiresInMinutes", 10}}));
  EXPECT_EQ(nlohmann::json::parse(requests[2].body),
            nlohmann::json({{"ProtectionEnabled", false}}));
  EXPECT_EQ(p.enabled(), false);
}

TEST(EcsProtectionTest, ReleaseDropsProtectionAtOnce) {
  opfleet::testing::HttpServer agent([](const opfleet::testing::HttpServerRequest&) {
    return opfleet::testing::HttpServerResponse::json(R"({"protection":{}})");
  });
  EcsProtection p(agent.base_url(), policy());
  TimePoint t = Clock::now();
  p.update(t, true);  // unknown state, busy: protect
  p.release(t);       // exiting with the grace not over: off anyway
  p.release(t);       // already off: nothing sent
  auto requests = agent.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(requests[1].body),
            nlohmann::json({{"ProtectionEnabled", false}}));
}

TEST(EcsProtectionTest, AnAgentFailureIsRetried) {
  int calls = 0;
  opfleet::testing::HttpServer agent([&calls](const opfleet::testing::HttpServerRequest&) {
    if (++calls == 1) {
      return opfleet::testing::HttpServerResponse::json(
          R"({"failure":{"Arn":"x","Reason":"TASK_NOT_VALID"}})");
    }
    return opfleet::testing::HttpServerResponse::json(R"({"protection":{}})");
  });
  EcsProtection p(agent.base_url(), policy());
  TimePoint t = Clock::now();
  p.update(t, true);
  EXPECT_NE(p.enabled(), true);  // refused
  p.update(t + seconds(2), true);
  EXPECT_EQ(p.enabled(), true);
  EXPECT_EQ(agent.request_count(), 2u);
}

}  // namespace
}  // namespace opfleet::supervisor
