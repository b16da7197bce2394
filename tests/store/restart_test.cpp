// Reconnection across a real server restart, on a private PostgreSQL (the shared stack
// server must never be stopped).
#include <gtest/gtest.h>

#include "store/connection.h"
#include "tests/support/postgres_process.h"

namespace opfleet::store {
namespace {

using opfleet::testing::PostgresProcess;

class RestartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server = new PostgresProcess(); }
  static void TearDownTestSuite() {
    delete server;
    server = nullptr;
  }
  void SetUp() override {
    if (!server->running()) server->start();
  }

  ConnectionOptions options() {
    ConnectionOptions o;
    o.url = server->url();
    o.statement_timeout = Millis(10000);
    o.reconnect = BackoffPolicy{Millis(5), Millis(20), 2};
    o.breaker = BreakerPolicy{4, Millis(1000)};
    o.clock = [this] { return now; };
    return o;
  }

  static PostgresProcess* server;
  SteadyClock::time_point now{};
};

PostgresProcess* RestartTest::server = nullptr;

TEST_F(RestartTest, SurvivesARestartWhileIdle) {
  Connection conn(options());
  ASSERT_TRUE(conn.exec("CREATE TABLE IF NOT EXISTS marks (n int)"));
  ASSERT_TRUE(conn.prepare("mark", "INSERT INTO marks VALUES ($1) RETURNING n"));
  ASSERT_TRUE(conn.exec_prepared("mark", {param::int64(1)}));
  const int old_pid = conn.backend_pid();

  server->stop();
  server->start();

  // Not idempotent, yet run: the dead session is detected before anything is sent, the
  // connection is re-established and the statement prepared again on the new session.
  auto r = conn.exec_prepared("mark", {param::int64(2)});
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->front().get<int>("n").value(), 2);
  EXPECT_NE(conn.backend_pid(), old_pid);
  EXPECT_EQ(conn.sessions_opened(), 2u);
  auto count = conn.exec("SELECT count(*) AS c FROM marks WHERE n = 2");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->front().get<std::int64_t>("c").value(), 1);  // exactly once
}

TEST_F(RestartTest, ServerDownFailsRetryablyThenTheBreakerOpensThenRecovers) {
  Connection conn(options());
  ASSERT_TRUE(conn.prepare("one", "SELECT 1 AS x"));
  server->stop();

  auto down = conn.exec_prepared("one");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::kNetwork) << down.error().describe();
  EXPECT_TRUE(down.error().retryable);
  auto still_down = conn.exec_prepared("one");  // 4 failed attempts in all: circuit opens
  ASSERT_FALSE(still_down);
  EXPECT_EQ(conn.breaker().state(), BreakerState::kOpen);
  auto fast = conn.exec_prepared("one");
  ASSERT_FALSE(fast);
  EXPECT_EQ(fast.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(fast.error().retryable);

  server->start();
  // Still open until its period has passed: no attempt is made yet.
  EXPECT_FALSE(conn.exec_prepared("one"));
  now += Millis(1000);
  auto back = conn.exec_prepared("one");
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->front().get<int>("x").value(), 1);
  EXPECT_EQ(conn.breaker().state(), BreakerState::kClosed);
}

TEST_F(RestartTest, CallsMadeWhileTheServerIsStartingAgainSucceed) {
  Connection conn(options());
  ASSERT_TRUE(conn.ping());
  server->stop();
  server->start();
  // Idempotent reads ride through as well.
  auto r = conn.exec("SELECT 2 AS x", {}, Idempotent::kYes);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->front().get<int>("x").value(), 2);
}

}  // namespace
}  // namespace opfleet::store
