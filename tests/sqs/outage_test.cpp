// An SQS outage, played with a private emulator that is stopped and started again on the
// same port: the client backs off instead of spinning, the circuit opens, callers that
// honour retry_after() make few requests, and the client recovers when SQS is back.
#include <gtest/gtest.h>

#include <numeric>
#include <thread>

#include "aws/credentials.h"
#include "sqs/client.h"
#include "sqs/errors.h"
#include "tests/support/fauxqs_process.h"
#include "tests/support/stack_env.h"

namespace opfleet::sqs {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

milliseconds since(steady_clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
}

// What a worker's loop does with a failed call: wait as long as the breaker says (at
// least a little), then try again.
void caller_backoff(const Client& client) {
  std::this_thread::sleep_for(std::max(client.retry_after(), milliseconds(10)));
}

TEST(SqsOutage, BacksOffOpensTheBreakerAndRecovers) {
  opfleet::testing::FauxqsProcess emulator;
  emulator.start();

  std::vector<Millis> waits;
  ClientConfig c;
  c.endpoint = emulator.endpoint();
  c.region = "us-east-1";
  c.credentials = aws::static_credentials({"test", "test", "", std::nullopt, "test"});
  c.backoff = BackoffPolicy{Millis(50), Millis(400), 4};
  c.breaker = BreakerPolicy{5, Millis(300)};
  c.http.connect_timeout = Millis(1000);
  c.http.timeout = Millis(3000);
  c.sleep = [&waits](Millis d) {
    waits.push_back(d);
    std::this_thread::sleep_for(d);
    return true;
  };
  auto made = Client::make(c);
  ASSERT_TRUE(made) << made.error().describe();
  Client& client = *made;

  const std::string name = opfleet::testing::unique_name("sqs-outage");
  auto url = client.create_queue(name);
  ASSERT_TRUE(url) << url.error().describe();
  ASSERT_TRUE(client.send_message(*url, {.body = "before"}));

  emulator.stop();

  // 1. One call retries with full-jitter backoff, then gives up with a retryable error.
  auto attempts0 = client.stats().attempts;
  auto t0 = steady_clock::now();
  auto r1 = client.get_queue_attributes(*url);
  const milliseconds took1 = since(t0);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().kind, ErrorKind::kNetwork) << r1.error().describe();
  EXPECT_TRUE(r1.error().retryable);
  EXPECT_EQ(client.stats().attempts - attempts0, 4u);
  ASSERT_EQ(waits.size(), 3u);
  for (std::size_t n = 0; n < waits.size(); ++n) EXPECT_LE(waits[n].count(), 50 << n) << n;
  const auto waited = std::accumulate(waits.begin(), waits.end(), Millis(0));
  EXPECT_GE(took1, waited) << "the client did not wait between attempts";
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);

  // 2. The fifth consecutive failure opens the circuit; the call returns at once.
  auto r2 = client.get_queue_attributes(*url);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, kCircuitOpenCode);
  EXPECT_EQ(r2.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r2.error().retryable);
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(client.stats().attempts - attempts0, 5u);
  EXPECT_EQ(waits.size(), 3u) << "waited after the circuit opened";

  // 3. For one second, a caller that keeps asking (backing off by retry_after()) reaches
  // the network only through the breaker's trial calls: one per open period.
  const auto attempts_open = client.stats().attempts;
  const auto rejected_open = client.stats().rejected_by_breaker;
  int calls = 0;
  t0 = steady_clock::now();
  while (since(t0) < milliseconds(1000)) {
    auto r = client.get_queue_attributes(*url);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().retryable);
    ++calls;
    caller_backoff(client);
  }
  const auto attempts_in_second = client.stats().attempts - attempts_open;
  EXPECT_GE(attempts_in_second, 1u) << "no trial call while open";
  EXPECT_LE(attempts_in_second, 5u) << "the breaker let too many calls through";
  EXPECT_GE(client.stats().rejected_by_breaker - rejected_open, 1u);
  EXPECT_LE(calls, 100);

  // 4. SQS comes back on the same port: the next trial succeeds and closes the circuit.
  emulator.start(emulator.port());
  t0 = steady_clock::now();
  Result<std::vector<std::string>> listed = fail(Error::internal("not tried"));
  while (since(t0) < milliseconds(10000)) {
    listed = client.list_queues(name);
    if (listed) break;
    caller_backoff(client);
  }
  ASSERT_TRUE(listed) << listed.error().describe();
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_LT(since(t0), milliseconds(2000)) << "recovery took longer than the open period";

  // The emulator keeps no state: the queue is new, and works.
  auto again = client.create_queue(name);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_TRUE(client.send_message(*again, {.body = "after"}));
  ReceiveOptions o;
  o.wait_seconds = 5;
  auto got = client.receive_messages(*again, o);
  ASSERT_TRUE(got) << got.error().describe();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).body, "after");
  EXPECT_TRUE(client.delete_queue(*again));
}

TEST(SqsOutage, FauxqsProcessRestartsOnTheSamePort) {
  opfleet::testing::FauxqsProcess emulator;
  emulator.start();
  const int port = emulator.port();
  ASSERT_GT(port, 0);
  const pid_t first = emulator.pid();
  emulator.stop();
  EXPECT_FALSE(emulator.running());
  emulator.start(port);
  EXPECT_EQ(emulator.port(), port);
  EXPECT_NE(emulator.pid(), first);
  EXPECT_NE(emulator.output().find("listening"), std::string::npos) << emulator.output();
}

}  // namespace
}  // namespace opfleet::sqs
