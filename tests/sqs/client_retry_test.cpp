// The client's request path, retries and circuit breaker against a scripted transport
// (no server): what goes on the wire, how often, and how long it waits in between.
#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "sqs/client.h"
#include "sqs/errors.h"
#include "sqs/wire.h"

namespace opfleet::sqs {
namespace {

using nlohmann::json;

constexpr const char* kQueueUrl =
    "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs";

// Answers requests from a script and records them with their timeouts.
struct FakeSqs {
  struct Seen {
    aws::HttpRequest request;
    Millis timeout;
  };
  std::deque<Result<aws::HttpResponse>> script;
  Result<aws::HttpResponse> fallback = ok_json("{}");
  std::vector<Seen> seen;
  std::vector<Millis> sleeps;

  static Result<aws::HttpResponse> ok_json(std::string body) {
    aws::HttpResponse r;
    r.status = 200;
    r.body = std::move(body);
    return r;
  }
  static Result<aws::HttpResponse> error(long status, std::string type) {
    aws::HttpResponse r;
    r.status = status;
    r.body = json{{"__type", type}, {"message", "scripted"}}.dump();
    return r;
  }
  static Result<aws::HttpResponse> refused() {
    return fail(Error::network("connect to 127.0.0.1:9 refused"));
  }

  ClientConfig config(BackoffPolicy backoff = {Millis(100), Millis(1600), 6},
                      BreakerPolicy breaker = {5, Millis(5000)}) {
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:9";
    c.region = "us-east-1";
    c.backoff = backoff;
    c.breaker = breaker;
    c.credentials = aws::static_credentials({"AKIDEXAMPLE", "secret", "", std::nullopt, "test"});
    c.transport = [this](const aws::HttpRequest& r, Millis timeout) {
      seen.push_back({r, timeout});
      if (script.empty()) return fallback;
      auto next = std::move(script.front());
      script.pop_front();
      return next;
    };
    c.sleep = [this](Millis d) {
      sleeps.push_back(d);  // recorded, not slept: the test checks the schedule
      return true;
    };
    return c;
  }
};

std::string header(const aws::HttpRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return v;
  }
  return {};
}

TEST(SqsClient, SendsSignedJsonToTheEndpointNotToTheQueueHost) {
  FakeSqs sqs;
  sqs.script.push_back(FakeSqs::ok_json(
      R"({"MessageId":"m-1","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"})"));
  auto client = Client::make(sqs.config()).value();
  auto r = client.send_message(kQueueUrl, {.body = "hello"});
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->message_id, "m-1");

  ASSERT_EQ(sqs.seen.size(), 1u);
  const aws::HttpRequest& req = sqs.seen[0].request;
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "http://127.0.0.1:9/");
  EXPECT_EQ(header(req, "X-Amz-Target"), "AmazonSQS.SendMessage");
  EXPECT_EQ(header(req, "Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(header(req, "Host"), "127.0.0.1:9");
  const std::string auth = header(req, "Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
  EXPECT_NE(auth.find("/us-east-1/sqs/aws4_request"), std::string::npos) << auth;
  EXPECT_FALSE(header(req, "X-Amz-Date").empty());
  json body = json::parse(req.body);
  EXPECT_EQ(body["QueueUrl"], kQueueUrl);
  EXPECT_EQ(body["MessageBody"], "hello");
  EXPECT_EQ(sqs.seen[0].timeout, client.config().http.timeout);
}

TEST(SqsClient, RetriesRetryableErrorsWithJitteredBackoffThenSucceeds) {
  FakeSqs sqs;
  sqs.script.push_back(FakeSqs::error(500, "InternalError"));
  sqs.script.push_back(FakeSqs::refused());
  sqs.script.push_back(FakeSqs::error(400, "ThrottlingException"));
  sqs.script.push_back(FakeSqs::ok_json(R"({"QueueUrl":"http://q/1/jobs"})"));
  auto client = Client::make(sqs.config()).value();
  auto r = client.get_queue_url("jobs");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(*r, "http://q/1/jobs");
  EXPECT_EQ(sqs.seen.size(), 4u);
  ASSERT_EQ(sqs.sleeps.size(), 3u);
  // Full jitter: each wait in [0, base * 2^n].
  for (std::size_t n = 0; n < sqs.sleeps.size(); ++n) {
    EXPECT_GE(sqs.sleeps[n].count(), 0);
    EXPECT_LE(sqs.sleeps[n].count(), 100 << n) << n;
  }
  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().attempts, 4u);
  EXPECT_EQ(client.stats().retries, 3u);
  EXPECT_EQ(client.stats().failed_calls, 0u);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  // Every attempt is signed afresh.
  for (const auto& s : sqs.seen) EXPECT_FALSE(header(s.request, "Authorization").empty());
}

TEST(SqsClient, NonRetryableErrorsComeBackAtOnce) {
  FakeSqs sqs;
  sqs.script.push_back(FakeSqs::error(400, "com.amazonaws.sqs#QueueDoesNotExist"));
  auto client = Client::make(sqs.config()).value();
  auto r = client.get_queue_url("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.error().code, "QueueDoesNotExist");
  EXPECT_EQ(sqs.seen.size(), 1u);
  EXPECT_TRUE(sqs.sleeps.empty());
  EXPECT_EQ(client.stats().failed_calls, 1u);
}

TEST(SqsClient, GivesUpAfterMaxAttemptsWithTheLastError) {
  FakeSqs sqs;
  sqs.fallback = FakeSqs::error(503, "ServiceUnavailable");
  auto client = Client::make(sqs.config({Millis(10), Millis(40), 3})).value();
  auto r = client.purge_queue(kQueueUrl);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_EQ(sqs.seen.size(), 3u);
  EXPECT_EQ(sqs.sleeps.size(), 2u);
}

TEST(SqsClient, BreakerOpensAfterConsecutiveFailuresFailsFastAndRecovers) {
  FakeSqs sqs;
  sqs.fallback = FakeSqs::refused();
  auto client = Client::make(sqs.config({Millis(10), Millis(40), 3}, {5, Millis(60)})).value();

  // Call 1: three failed attempts, the circuit is still closed.
  auto r1 = client.get_queue_url("jobs");
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);

  // Call 2: the fifth consecutive failure opens it; no backoff wait after that.
  const auto sleeps_before = sqs.sleeps.size();
  auto r2 = client.get_queue_url("jobs");
  ASSERT_FALSE(r2);
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(r2.error().code, kCircuitOpenCode);
  EXPECT_EQ(r2.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r2.error().retryable);
  EXPECT_NE(r2.error().message.find("refused"), std::string::npos) << r2.error().message;
  EXPECT_EQ(sqs.seen.size(), 5u);
  EXPECT_EQ(sqs.sleeps.size(), sleeps_before + 1);  // the one wait between attempts 4 and 5

  // Call 3: fails fast, nothing sent.
  auto r3 = client.get_queue_url("jobs");
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, kCircuitOpenCode);
  EXPECT_EQ(sqs.seen.size(), 5u);
  EXPECT_EQ(client.stats().rejected_by_breaker, 1u);
  EXPECT_GT(client.retry_after().count(), 0);

  // After open_for, one trial goes out; its success closes the circuit. (The breaker's
  // clock is the real one: waiting out its 60 ms is what is being tested.)
  std::this_thread::sleep_for(client.retry_after() + Millis(5));
  sqs.fallback = FakeSqs::ok_json(R"({"QueueUrl":"http://q/1/jobs"})");
  auto r4 = client.get_queue_url("jobs");
  ASSERT_TRUE(r4) << r4.error().describe();
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(sqs.seen.size(), 6u);
}

TEST(SqsClient, ThrottlingIsRetriedButDoesNotOpenTheBreaker) {
  FakeSqs sqs;
  for (int i = 0; i < 7; ++i) sqs.script.push_back(FakeSqs::error(400, "RequestThrottled"));
  sqs.script.push_back(FakeSqs::ok_json("{}"));
  auto client = Client::make(sqs.config({Millis(1), Millis(4), 8}, {5, Millis(5000)})).value();
  auto r = client.delete_message(kQueueUrl, "rh");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(sqs.seen.size(), 8u);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
}

TEST(SqsClient, CancelledSleepStopsRetrying) {
  FakeSqs sqs;
  sqs.fallback = FakeSqs::error(500, "InternalError");
  ClientConfig c = sqs.config();
  int waits = 0;
  c.sleep = [&](Millis) {
    ++waits;
    return false;  // shutting down
  };
  auto client = Client::make(std::move(c)).value();
  auto r = client.get_queue_url("jobs");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "InternalError");
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(sqs.seen.size(), 1u);
}

TEST(SqsClient, LongPollExtendsTheHttpTimeout) {
  FakeSqs sqs;
  auto client = Client::make(sqs.config()).value();
  const Millis base = client.config().http.timeout;
  ReceiveOptions o;
  o.wait_seconds = 20;
  ASSERT_TRUE(client.receive_messages(kQueueUrl, o));
  o.wait_seconds = 0;
  ASSERT_TRUE(client.receive_messages(kQueueUrl, o));
  o.wait_seconds.reset();  // the queue's wait applies: assume the longest
  ASSERT_TRUE(client.receive_messages(kQueueUrl, o));
  ASSERT_EQ(sqs.seen.size(), 3u);
  EXPECT_EQ(sqs.seen[0].timeout, base + Millis(20000));
  EXPECT_EQ(sqs.seen[1].timeout, base);
  EXPECT_EQ(sqs.seen[2].timeout, base + Millis(20000));
}

TEST(SqsClient, InvalidRequestsAreRefusedBeforeSending) {
  FakeSqs sqs;
  auto client = Client::make(sqs.config()).value();
  ReceiveOptions o;
  o.max_messages = 11;
  EXPECT_EQ(client.receive_messages(kQueueUrl, o).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(client.change_message_visibility(kQueueUrl, "rh", 50000).error().kind,
            ErrorKind::kInvalid);
  EXPECT_TRUE(sqs.seen.empty());
}

TEST(SqsClient, BadEndpointOrRegionIsAConfigurationError) {
  FakeSqs sqs;
  ClientConfig c = sqs.config();
  c.endpoint = "localhost:4566";
  EXPECT_EQ(Client::make(c).error().kind, ErrorKind::kInvalid);
  c.endpoint.clear();
  c.region.clear();
  EXPECT_EQ(Client::make(c).error().kind, ErrorKind::kInvalid);
  c.region = "eu-west-1";
  EXPECT_EQ(Client::make(c).value().url(), "https://sqs.eu-west-1.amazonaws.com/");
}

class FailingCredentials : public aws::CredentialsProvider {
 public:
  Result<aws::Credentials> get() override {
    return fail(Error::make(ErrorKind::kAuth, "no credentials anywhere"));
  }
};

TEST(SqsClient, CredentialFailuresDoNotReachSqsOrTheBreaker) {
  FakeSqs sqs;
  ClientConfig c = sqs.config();
  c.credentials = std::make_shared<FailingCredentials>();
  auto client = Client::make(std::move(c)).value();
  for (int i = 0; i < 6; ++i) {
    auto r = client.get_queue_url("jobs");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::kAuth);
  }
  EXPECT_TRUE(sqs.seen.empty());
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
}

TEST(SqsClient, AnswersThatAreNotJsonObjectsAreErrors) {
  FakeSqs sqs;
  sqs.script.push_back(FakeSqs::ok_json("<html>captive portal</html>"));
  sqs.script.push_back(FakeSqs::ok_json(""));  // DeleteMessage may answer with nothing
  auto client = Client::make(sqs.config()).value();
  auto r = client.get_queue_url("jobs");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
  EXPECT_TRUE(client.delete_message(kQueueUrl, "rh"));
}

TEST(SqsClient, ChecksumMismatchOnSendIsReported) {
  FakeSqs sqs;
  sqs.script.push_back(FakeSqs::ok_json(R"({"MessageId":"m","MD5OfMessageBody":"0000"})"));
  sqs.script.push_back(FakeSqs::ok_json(
      R"({"Successful":[{"Id":"a","MessageId":"m-a","MD5OfMessageBody":"0000"},
                        {"Id":"b","MessageId":"m-b","MD5OfMessageBody":"92eb5ffee6ae2fec3ad71c777531578f"}]})"));
  auto client = Client::make(sqs.config()).value();
  auto r = client.send_message(kQueueUrl, {.body = "hello"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "MD5OfMessageBodyMismatch");

  std::vector<OutgoingMessage> batch = {{.id = "a", .body = "a"}, {.id = "b", .body = "b"}};
  auto b = client.send_message_batch(kQueueUrl, batch).value();
  ASSERT_EQ(b.successful.size(), 1u);
  EXPECT_EQ(b.successful[0].id, "b");
  ASSERT_EQ(b.failed.size(), 1u);
  EXPECT_EQ(b.failed[0].id, "a");
  EXPECT_EQ(b.failed[0].code, "MD5OfMessageBodyMismatch");
}

}  // namespace
}  // namespace opfleet::sqs
