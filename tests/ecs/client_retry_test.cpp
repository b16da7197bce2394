// Error answers, retries and the circuit breaker, against recorded pairs: every error type
// is mapped to its kind, retryable ones are repeated with full-jitter backoff (the waits
// are recorded, not slept), and repeated server failures open the breaker.
#include <gtest/gtest.h>

#include <string>

#include "ecs/client.h"
#include "ecs/errors.h"
#include "tests/ecs/replay_client.h"
#include "tests/ecs/replay_server.h"

namespace opfleet::ecs {
namespace {

using opfleet::testing::EcsReplayServer;
using opfleet::testing::ReplayClient;

constexpr const char* kCluster = "opfleet";
constexpr const char* kService = "opfleet-worker";

// The order of tests/ecs/recorded/errors.json.
struct Expected {
  const char* code;
  ErrorKind kind;
  bool retryable;
  int http_status;
};
constexpr Expected kErrors[] = {
    {"ClientException", ErrorKind::kInvalid, false, 400},
    {"ClusterNotFoundException", ErrorKind::kNotFound, false, 400},
    {"ServiceNotFoundException", ErrorKind::kNotFound, false, 400},
    {"ServiceNotActiveException", ErrorKind::kNotFound, false, 400},
    {"AccessDeniedException", ErrorKind::kAuth, false, 400},
    {"InvalidParameterException", ErrorKind::kInvalid, false, 400},
    {"ServerException", ErrorKind::kUnavailable, true, 500},
    {"ThrottlingException", ErrorKind::kThrottled, true, 400},
    {"ClusterNotFoundException", ErrorKind::kNotFound, false, 400},  // namespaced __type
    {"UnrecognizedClientException", ErrorKind::kAuth, false, 403},
    {"LimitExceededException", ErrorKind::kInvalid, false, 400},
};

TEST(EcsClientErrors, EachErrorTypeIsMappedToItsKind) {
  EcsReplayServer server("errors");
  ASSERT_EQ(server.pairs().size(), std::size(kErrors));
  ReplayClient rc;
  // One attempt per call: the retryable ones are retried in the tests below.
  Client client = rc.make(server, {Millis(100), Millis(1600), 1}, {100, Millis(5000)});
  for (const Expected& want : kErrors) {
    SCOPED_TRACE(want.code);
    auto r = client.update_desired_count(kCluster, kService, 3);
    ASSERT_FALSE(r);
    const Error& e = r.error();
    EXPECT_EQ(e.code, want.code);
    EXPECT_EQ(e.kind, want.kind) << to_string(e.kind);
    EXPECT_EQ(e.retryable, want.retryable);
    EXPECT_EQ(e.http_status, want.http_status);
    EXPECT_TRUE(e.message.starts_with("ECS UpdateService: ")) << e.message;
  }
  EXPECT_TRUE(rc.sleeps.empty());
  EXPECT_EQ(client.stats().failed_calls, std::size(kErrors));
  EXPECT_TRUE(server.verify());
}

TEST(EcsClientErrors, ServerExceptionAndThrottlingAreRetriedWithJitteredBackoff) {
  EcsReplayServer server("retry_then_success");
  ReplayClient rc;
  Client client = rc.make(server);
  auto s = client.update_desired_count(kCluster, kService, 5);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(s->desired_count, 5);
  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(client.stats().retries, 2u);
  EXPECT_EQ(client.stats().failed_calls, 0u);
  ASSERT_EQ(rc.sleeps.size(), 2u);
  // Full jitter: the n-th wait is in [0, base * 2^n].
  for (std::size_t n = 0; n < rc.sleeps.size(); ++n) {
    EXPECT_GE(rc.sleeps[n].count(), 0);
    EXPECT_LE(rc.sleeps[n].count(), 100 << n) << n;
  }
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_TRUE(server.verify());  // every retry repeated the same signed request
}

TEST(EcsClientErrors, ThrottlingGivesUpAfterMaxAttemptsWithoutOpeningTheBreaker) {
  EcsReplayServer server("throttled_exhausted");
  ReplayClient rc;
  // A breaker that three outages would open: throttling must not count as one.
  Client client = rc.make(server, {Millis(10), Millis(40), 3}, {2, Millis(5000)});
  auto r = client.describe_service(kCluster, kService);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kThrottled);
  EXPECT_EQ(r.error().code, "ThrottlingException");
  EXPECT_TRUE(r.error().retryable);  // the caller may try again later
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(rc.sleeps.size(), 2u);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClientErrors, BreakerOpensOnServerFailuresFailsFastAndClosesAfterATrial) {
  EcsReplayServer server("breaker");
  ReplayClient rc;
  Client client = rc.make(server, {Millis(10), Millis(40), 2}, {3, Millis(5000)});

  // Call 1: two failed attempts; closed still.
  auto r1 = client.describe_service(kCluster, kService);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, "ServerException");
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);

  // Call 2: its first attempt is the third consecutive failure: the circuit opens and the
  // call fails fast instead of waiting out a backoff.
  auto r2 = client.describe_service(kCluster, kService);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, kCircuitOpenCode);
  EXPECT_EQ(r2.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r2.error().retryable);
  EXPECT_NE(r2.error().message.find("ServerException"), std::string::npos) << r2.error().message;
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(server.served(), 3u);
  EXPECT_EQ(rc.sleeps.size(), 1u);  // only between the two attempts of call 1

  // Call 3: nothing is sent while open.
  auto r3 = client.describe_service(kCluster, kService);
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, kCircuitOpenCode);
  EXPECT_EQ(server.served(), 3u);
  EXPECT_EQ(client.stats().rejected_by_breaker, 1u);
  EXPECT_EQ(client.retry_after(), Millis(5000));

  // Once open_for has passed on the breaker's clock, one trial goes out; it succeeds and
  // closes the circuit.
  rc.breaker_now += Millis(5000);
  auto r4 = client.describe_service(kCluster, kService);
  ASSERT_TRUE(r4) << r4.error().describe();
  EXPECT_EQ(r4->running_count, 3);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClientErrors, NetworkFailuresAreRetriedAndCountTowardTheBreaker) {
  ReplayClient rc;
  ClientConfig c;
  c.endpoint = "http://127.0.0.1:9";  // the discard port: nothing listens, connection refused
  c.backoff = {Millis(10), Millis(40), 3};
  c.breaker = {3, Millis(5000)};
  c.credentials = aws::static_credentials({"AKIDEXAMPLE", "secret", "", std::nullopt, "test"});
  c.sleep = [&](Millis d) {
    rc.sleeps.push_back(d);
    return true;
  };
  auto client = Client::make(c).value();
  auto r = client.update_desired_count(kCluster, kService, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(rc.sleeps.size(), 2u);
  // The last attempt's own error comes back; it was also the third consecutive outage,
  // so the next call will fail fast.
  EXPECT_EQ(r.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  auto next = client.update_desired_count(kCluster, kService, 1);
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, kCircuitOpenCode);
  EXPECT_EQ(client.stats().attempts, 3u);
}

TEST(EcsClientErrors, CancelledSleepStopsRetrying) {
  EcsReplayServer server("retry_then_success");
  ReplayClient rc;
  ClientConfig c = rc.config(server);
  c.sleep = [](Millis) { return false; };  // shutting down
  auto client = Client::make(c).value();
  auto r = client.update_desired_count(kCluster, kService, 5);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "ServerException");
  EXPECT_EQ(server.served(), 1u);
}

}  // namespace
}  // namespace opfleet::ecs
