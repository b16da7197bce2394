// Pure pieces of the scaler around the decision: worker spreading, reason shapes, queue
// attribute parsing, /metrics and /healthz answers.
#include <gtest/gtest.h>

#include "scaler/control_loop.h"
#include "scaler/local_actuator.h"
#include "scaler/metrics_source.h"
#include "scaler/status_server.h"

namespace opfleet::scaler {
namespace {

using namespace std::chrono_literals;

TEST(Spread, FirstInstancesTakeTheRemainder) {
  EXPECT_EQ(spread(5, 2), (std::vector<int>{3, 2}));
  EXPECT_EQ(spread(1, 3), (std::vector<int>{1, 0, 0}));
  EXPECT_EQ(spread(6, 3), (std::vector<int>{2, 2, 2}));
  EXPECT_EQ(spread(0, 2), (std::vector<int>{0, 0}));
}

TEST(LocalActuator, RefusesNoOrRepeatedInstances) {
  EXPECT_FALSE(LocalActuator::make({}));
  LocalActuatorOptions o;
  o.instances = {"a", "a"};
  EXPECT_FALSE(LocalActuator::make(o));
  o.instances = {"a", "b"};
  EXPECT_TRUE(LocalActuator::make(o));
}

TEST(LocalActuator, AMissingSupervisorIsUnavailableNotZeroWorkers) {
  LocalActuatorOptions o;
  o.instances = {"scaler-test-no-such-instance"};
  auto a = LocalActuator::make(o);
  ASSERT_TRUE(a);
  auto r = a->read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_FALSE(a->set_desired(3, "test"));
}

TEST(ReasonShape, NumbersDoNotMakeANewReason) {
  EXPECT_EQ(reason_shape("visible 3 within [2, 10]"), reason_shape("visible 14 within [2, 10]"));
  EXPECT_EQ(reason_shape("backlog/worker 0.25 near target 3"), "backlog/worker # near target #");
  EXPECT_NE(reason_shape("visible 3 within [2, 10]"), reason_shape("visible 3 > 2 workers x 5"));
}

TEST(QueueCounts, ParsesTheThreeAttributes) {
  auto c = queue_counts({{"ApproximateNumberOfMessages", "12"},
                         {"ApproximateNumberOfMessagesNotVisible", "3"},
                         {"ApproximateNumberOfMessagesDelayed", "1"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->visible, 12);
  EXPECT_EQ(c->in_flight, 3);
  EXPECT_EQ(c->delayed, 1);
  EXPECT_FALSE(queue_counts({{"ApproximateNumberOfMessages", "12"}}));
  EXPECT_FALSE(queue_counts(
      {{"ApproximateNumberOfMessages", "x"}, {"ApproximateNumberOfMessagesNotVisible", "3"}}));
  EXPECT_FALSE(queue_counts(
      {{"ApproximateNumberOfMessages", "-1"}, {"ApproximateNumberOfMessagesNotVisible", "3"}}));
}

LoopSnapshot sample_snapshot() {
  LoopSnapshot s;
  s.actuator = "local";
  s.policy = "threshold";
  s.desired = 3;
  s.current = 2;
  s.visible = 10;
  s.in_flight = 2;
  s.decisions = {{"none", 4}, {"scale_out", 1}};
  s.faults = {{"kill_worker", 2}};
  return s;
}

TEST(Metrics, ExposeDesiredCurrentBacklogAndDecisions) {
  const std::string m = render_metrics(sample_snapshot());
  EXPECT_NE(m.find("opfleet_scaler_desired_workers 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("opfleet_scaler_current_workers 2\n"), std::string::npos);
  EXPECT_NE(m.find("opfleet_scaler_backlog_per_worker 6\n"), std::string::npos);
  EXPECT_NE(m.find("opfleet_scaler_decisions_total{action=\"scale_out\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("opfleet_scaler_decisions_total{action=\"scale_in\"} 0\n"), std::string::npos);
  EXPECT_NE(m.find("opfleet_scaler_faults_total{action=\"kill_worker\"} 2\n"), std::string::npos);
}

TEST(Healthz, HealthyOnlyWhileGoodPollsAreRecent) {
  auto s = sample_snapshot();
  const SteadyClock::time_point now{std::chrono::hours(2)};
  EXPECT_EQ(status_answer("GET", "/healthz", s, now, 10s).status, 503) << "never polled";
  s.last_good_cycle = now - 5s;
  EXPECT_EQ(status_answer("GET", "/healthz", s, now, 10s).status, 200);
  s.last_good_cycle = now - 11s;
  EXPECT_EQ(status_answer("GET", "/healthz", s, now, 10s).status, 503);
  EXPECT_EQ(status_answer("GET", "/nope", s, now, 10s).status, 404);
  EXPECT_EQ(status_answer("POST", "/metrics", s, now, 10s).status, 405);
}

}  // namespace
}  // namespace opfleet::scaler
