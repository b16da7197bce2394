// The shared AWS JSON client (aws/json_client.h) against a scripted transport, for a
// made-up service: what each attempt sends, how the answers are read, and the retry loop
// with its backoff, circuit breaker (on a fake clock), counters and log lines.
#include "aws/json_client.h"

#include <gtest/gtest.h>
#include <strings.h>

#include <deque>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/json_errors.h"
#include "common/log.h"
#include "tests/aws/test_service.h"

namespace opfleet::aws {
namespace {

using nlohmann::json;
using testing::kTestService;

// call() is for the service clients that derive from JsonClient; so is this one.
class WidgetClient : public JsonClient {
 public:
  static Result<WidgetClient> make(ClientOptions options) {
    OPFLEET_TRY(JsonClient base, JsonClient::make(kTestService, std::move(options)));
    return WidgetClient(std::move(base));
  }
  using JsonClient::call;

 private:
  explicit WidgetClient(JsonClient base) : JsonClient(std::move(base)) {}
};

// Plays answers in order (then `otherwise`), and keeps what the client sent and waited.
struct Script {
  std::deque<Result<HttpResponse>> answers;
  Result<HttpResponse> otherwise = answer(200, "{}");
  std::vector<std::pair<HttpRequest, Millis>> sent;
  std::vector<Millis> waits;
  SteadyClock::time_point now = SteadyClock::time_point{} + std::chrono::hours(24);

  static Result<HttpResponse> answer(long status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Result<HttpResponse> error(long status, const std::string& type) {
    return answer(status, json{{"__type", type}, {"message", "scripted " + type}}.dump());
  }
  static Result<HttpResponse> unreachable() {
    return fail(Error::network("connect to 127.0.0.1:9: connection refused"));
  }

  ClientOptions options(BackoffPolicy backoff = {Millis(100), Millis(800), 5},
                        BreakerPolicy breaker = {4, Millis(2000)}) {
    return {
        .endpoint = "http://127.0.0.1:9/widgets/",
        .region = "eu-central-1",
        .backoff = backoff,
        .breaker = breaker,
        .credentials =
            static_credentials({"AKIDWIDGETS", "widget-secret", "", std::nullopt, "test"}),
        .sleep = [this](Millis d) { return wait(d); },
        .breaker_clock = [this] { return now; },
        .transport = [this](const HttpRequest& r, Millis timeout) { return send(r, timeout); },
    };
  }

  // Recorded, not slept: the tests check the schedule.
  bool wait(Millis d) {
    waits.push_back(d);
    return true;
  }

  Result<HttpResponse> send(const HttpRequest& request, Millis timeout) {
    sent.emplace_back(request, timeout);
    if (answers.empty()) return otherwise;
    Result<HttpResponse> next = std::move(answers.front());
    answers.pop_front();
    return next;
  }

  WidgetClient client(BackoffPolicy backoff = {Millis(100), Millis(800), 5},
                      BreakerPolicy breaker = {4, Millis(2000)}) {
    return WidgetClient::make(options(backoff, breaker)).value();
  }
};

std::string header(const HttpRequest& r, const char* name) {
  for (const auto& [k, v] : r.headers) {
    if (strcasecmp(k.c_str(), name) == 0) return v;
  }
  return {};
}

TEST(JsonClient, MakeFillsTheServiceDefaults) {
  Script s;
  ClientOptions o = s.options();
  o.endpoint.clear();
  o.region = "us-west-2";
  o.credentials = nullptr;
  o.sleep = nullptr;
  auto client = WidgetClient::make(std::move(o));
  ASSERT_TRUE(client) << client.error().describe();
  EXPECT_EQ(client->url(), "https://widgets.us-west-2.amazonaws.com/");
  EXPECT_EQ(client->config().name, "widgets");
  EXPECT_NE(client->config().credentials, nullptr);
  EXPECT_TRUE(client->config().sleep);

  ClientOptions named = s.options();
  named.name = "widgets-recovery";
  EXPECT_EQ(WidgetClient::make(named).value().config().name, "widgets-recovery");
}

TEST(JsonClient, MakeRefusesAMissingRegionOrABadEndpoint) {
  Script s;
  ClientOptions no_region = s.options();
  no_region.region.clear();
  auto r1 = WidgetClient::make(no_region);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r1.error().message, "Widgets client: no AWS region configured");

  ClientOptions bad = s.options();
  bad.endpoint = "http://127.0.0.1:9/?x=1";
  auto r2 = WidgetClient::make(bad);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(r2.error().message.starts_with("Widgets endpoint: ")) << r2.error().message;
}

TEST(JsonClient, EachCallIsASignedPostOfItsJsonBody) {
  Script s;
  s.answers.push_back(Script::answer(200, R"({"widgetId":"w-7","size":3})"));
  WidgetClient client = s.client();
  auto answer = client.call("PutWidget", json{{"size", 3}, {"colour", "blau"}});
  ASSERT_TRUE(answer) << answer.error().describe();
  EXPECT_EQ((*answer)["widgetId"], "w-7");

  ASSERT_EQ(s.sent.size(), 1u);
  const auto& [request, timeout] = s.sent[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://127.0.0.1:9/widgets/");
  EXPECT_EQ(json::parse(request.body), (json{{"size", 3}, {"colour", "blau"}}));
  EXPECT_EQ(header(request, "X-Amz-Target"), "WidgetService_20240101.PutWidget");
  EXPECT_EQ(header(request, "Content-Type"), "application/x-amz-json-1.1");
  const std::string auth = header(request, "Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDWIDGETS/")) << auth;
  EXPECT_NE(auth.find("/eu-central-1/widgets/aws4_request"), std::string::npos) << auth;
  EXPECT_EQ(auth.find("widget-secret"), std::string::npos);
  EXPECT_EQ(timeout, client.config().http.timeout);

  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().attempts, 1u);
  EXPECT_EQ(client.stats().retries, 0u);
  EXPECT_EQ(client.stats().failed_calls, 0u);
}

TEST(JsonClient, ACallMayTakeLongerThanTheDefaultTimeout) {
  Script s;
  WidgetClient client = s.client();
  const Millis longer = client.config().http.timeout + Millis(20000);
  ASSERT_TRUE(client.call("WaitForWidget", json::object(), longer));
  ASSERT_TRUE(client.call("GetWidget", json::object()));
  ASSERT_EQ(s.sent.size(), 2u);
  EXPECT_EQ(s.sent[0].second, longer);
  EXPECT_EQ(s.sent[1].second, client.config().http.timeout);
}

TEST(JsonClient, AnEmptyAnswerIsAnEmptyObjectAndANonObjectAnError) {
  Script s;
  s.answers.push_back(Script::answer(200, ""));
  s.answers.push_back(Script::answer(200, " \n"));
  s.answers.push_back(Script::answer(200, "[1,2]"));
  s.answers.push_back(Script::answer(200, "<html>captive portal</html>"));
  WidgetClient client = s.client();
  EXPECT_EQ(client.call("DeleteWidget", json::object()).value(), json::object());
  EXPECT_EQ(client.call("DeleteWidget", json::object()).value(), json::object());
  auto array = client.call("ListWidgets", json::object());
  ASSERT_FALSE(array);
  EXPECT_EQ(array.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(array.error().message,
            "Widgets ListWidgets: the answer is not a JSON object (5 bytes)");
  auto html = client.call("ListWidgets", json::object());
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().kind, ErrorKind::kInternal);
  // Not retried, and no sign of an outage.
  EXPECT_EQ(s.sent.size(), 4u);
  EXPECT_EQ(client.stats().failed_calls, 2u);
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
}

TEST(JsonClient, RetryableFailuresAreRetriedWithFullJitterAndOneLogLineEach) {
  log::configure(log::Level::kInfo, log::Format::kJson, "json_client_test");
  Script s;
  s.answers.push_back(Script::error(500, "WidgetServerException"));
  s.answers.push_back(Script::unreachable());
  s.answers.push_back(Script::error(400, "SlowDownPlease"));
  s.answers.push_back(Script::answer(200, R"({"ok":true})"));
  WidgetClient client = s.client();

  ::testing::internal::CaptureStderr();
  auto answer = client.call("PutWidget", json{{"size", 1}});
  const std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(answer) << answer.error().describe();

  EXPECT_EQ(s.sent.size(), 4u);
  ASSERT_EQ(s.waits.size(), 3u);
  for (std::size_t n = 0; n < s.waits.size(); ++n) {
    EXPECT_GE(s.waits[n].count(), 0);
    EXPECT_LE(s.waits[n].count(), 100 << n) << "wait " << n;
  }
  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().attempts, 4u);
  EXPECT_EQ(client.stats().retries, 3u);
  EXPECT_EQ(client.stats().failed_calls, 0u);
  // Every attempt is signed afresh (a retry may come after the signature's clock moved).
  for (const auto& [request, timeout] : s.sent) {
    EXPECT_FALSE(header(request, "Authorization").empty());
  }

  std::vector<json> lines;
  std::istringstream in(logged);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "widgets_retry") lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 3u) << logged;
  EXPECT_EQ(lines[0]["client"], "widgets");
  EXPECT_EQ(lines[0]["action"], "PutWidget");
  EXPECT_EQ(lines[0]["attempt"], 1);
  EXPECT_EQ(lines[0]["max_attempts"], 5);
  EXPECT_EQ(lines[0]["delay_ms"], s.waits[0].count());
  EXPECT_EQ(lines[0]["error_kind"], to_string(ErrorKind::kUnavailable));
  EXPECT_EQ(lines[0]["code"], "WidgetServerException");
  EXPECT_EQ(lines[1]["error_kind"], to_string(ErrorKind::kNetwork));
  EXPECT_EQ(lines[2]["code"], "SlowDownPlease");
  EXPECT_EQ(lines[2]["attempt"], 3);
}

TEST(JsonClient, NonRetryableErrorsComeBackAtOnce) {
  Script s;
  s.answers.push_back(Script::error(400, "com.amazonaws.widgets#WidgetNotFoundException"));
  WidgetClient client = s.client();
  auto r = client.call("GetWidget", json{{"widgetId", "w-0"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.error().code, "WidgetNotFoundException");
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(r.error().message,
            "Widgets GetWidget: WidgetNotFoundException: scripted "
            "com.amazonaws.widgets#WidgetNotFoundException");
  EXPECT_EQ(s.sent.size(), 1u);
  EXPECT_TRUE(s.waits.empty());
  EXPECT_EQ(client.stats().failed_calls, 1u);
}

TEST(JsonClient, GivesUpAfterMaxAttemptsWithTheLastError) {
  Script s;
  s.answers.push_back(Script::unreachable());
  s.otherwise = Script::error(503, "SomethingNew");
  WidgetClient client = s.client({Millis(10), Millis(40), 3}, {100, Millis(2000)});
  auto r = client.call("PutWidget", json::object());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_TRUE(r.error().retryable);  // the caller may try again later
  EXPECT_EQ(s.sent.size(), 3u);
  EXPECT_EQ(s.waits.size(), 2u);
  EXPECT_EQ(client.stats().failed_calls, 1u);
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(JsonClient, NoAttemptLimitRetriesUntilSuccess) {
  Script s;
  for (int i = 0; i < 12; ++i) s.answers.push_back(Script::error(400, "SlowDownPlease"));
  WidgetClient client = s.client({Millis(1), Millis(4), 0}, {3, Millis(2000)});
  ASSERT_TRUE(client.call("PutWidget", json::object()));
  EXPECT_EQ(s.sent.size(), 13u);
  EXPECT_EQ(client.stats().retries, 12u);
  // Throttling is no outage: the breaker, whose threshold is 3, stayed closed.
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
}

TEST(JsonClient, BreakerOpensOnOutagesFailsFastAndATrialClosesIt) {
  Script s;
  s.otherwise = Script::unreachable();
  WidgetClient client = s.client({Millis(10), Millis(40), 3}, {4, Millis(2000)});

  // Call 1: three failed attempts; the circuit is closed still.
  auto r1 = client.call("GetWidget", json::object());
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(r1.error().message.starts_with("Widgets GetWidget: connect to"))
      << r1.error().message;
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);

  // Call 2: its first attempt is the fourth failure in a row: the circuit opens and the
  // call fails at once instead of waiting out a backoff.
  const std::size_t waits_before = s.waits.size();
  auto r2 = client.call("GetWidget", json::object());
  ASSERT_FALSE(r2);
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(r2.error().code, kCircuitOpenCode);
  EXPECT_EQ(r2.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(r2.error().retryable);
  EXPECT_TRUE(r2.error().message.starts_with(
      "Widgets GetWidget: circuit 'widgets' open after 4 consecutive failures, next trial in "
      "2000 ms; last error: "))
      << r2.error().message;
  EXPECT_NE(r2.error().message.find("connection refused"), std::string::npos);
  EXPECT_EQ(s.sent.size(), 4u);
  EXPECT_EQ(s.waits.size(), waits_before);

  // Call 3: nothing is sent while open.
  s.now += Millis(500);
  auto r3 = client.call("GetWidget", json::object());
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, kCircuitOpenCode);
  EXPECT_EQ(r3.error().message,
            "Widgets GetWidget: circuit 'widgets' open after 4 consecutive failures, next "
            "trial in 1500 ms");
  EXPECT_EQ(s.sent.size(), 4u);
  EXPECT_EQ(client.stats().rejected_by_breaker, 1u);
  EXPECT_EQ(client.retry_after(), Millis(1500));

  // Once open_for has passed, one trial goes out; its success closes the circuit.
  s.now += Millis(1500);
  s.answers.push_back(Script::answer(200, "{}"));
  ASSERT_TRUE(client.call("GetWidget", json::object()));
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(s.sent.size(), 5u);
  EXPECT_EQ(client.stats().failed_calls, 3u);
}

TEST(JsonClient, AFailedTrialReopensTheCircuit) {
  Script s;
  s.otherwise = Script::error(500, "WidgetServerException");
  WidgetClient client = s.client({Millis(10), Millis(40), 1}, {2, Millis(2000)});
  EXPECT_FALSE(client.call("GetWidget", json::object()));
  EXPECT_FALSE(client.call("GetWidget", json::object()));
  ASSERT_EQ(client.breaker_state(), BreakerState::kOpen);

  s.now += Millis(2000);
  auto trial = client.call("GetWidget", json::object());
  ASSERT_FALSE(trial);
  EXPECT_EQ(trial.error().code, "WidgetServerException");
  EXPECT_EQ(client.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(s.sent.size(), 3u);
  EXPECT_EQ(client.call("GetWidget", json::object()).error().code, kCircuitOpenCode);
  EXPECT_EQ(s.sent.size(), 3u);
}

TEST(JsonClient, AnAnswerFromTheServiceEndsARunOfOutages) {
  Script s;
  // Outage, a rejected request (4xx: the service is up), outage: never two in a row.
  s.answers.push_back(Script::unreachable());
  s.answers.push_back(Script::error(400, "BadWidgetException"));
  s.answers.push_back(Script::unreachable());
  s.answers.push_back(Script::error(400, "BadWidgetException"));
  WidgetClient client = s.client({Millis(10), Millis(40), 2}, {2, Millis(2000)});
  EXPECT_EQ(client.call("PutWidget", json::object()).error().code, "BadWidgetException");
  EXPECT_EQ(client.call("PutWidget", json::object()).error().code, "BadWidgetException");
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(s.sent.size(), 4u);
}

TEST(JsonClient, CancelledSleepStopsRetryingWithTheErrorThatMadeItWait) {
  Script s;
  s.otherwise = Script::error(500, "WidgetServerException");
  ClientOptions o = s.options();
  int waits = 0;
  o.sleep = [&waits](Millis) {
    ++waits;
    return false;  // shutting down
  };
  WidgetClient client = WidgetClient::make(std::move(o)).value();
  auto r = client.call("PutWidget", json::object());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "WidgetServerException");
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(s.sent.size(), 1u);
  EXPECT_EQ(client.stats().retries, 1u);
  EXPECT_EQ(client.stats().failed_calls, 1u);
}

class NoCredentials : public CredentialsProvider {
 public:
  Result<Credentials> get() override {
    return fail(Error::make(ErrorKind::kAuth, "no credentials anywhere"));
  }
};

TEST(JsonClient, CredentialFailuresReachNeitherTheServiceNorTheBreaker) {
  Script s;
  ClientOptions o = s.options({Millis(10), Millis(40), 3}, {2, Millis(2000)});
  o.credentials = std::make_shared<NoCredentials>();
  WidgetClient client = WidgetClient::make(std::move(o)).value();
  for (int i = 0; i < 4; ++i) {
    auto r = client.call("PutWidget", json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::kAuth);
    EXPECT_EQ(r.error().message, "Widgets PutWidget: no credentials anywhere");
  }
  EXPECT_TRUE(s.sent.empty());
  EXPECT_EQ(client.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(client.stats().attempts, 0u);
}

TEST(JsonClient, ABodyThatIsNotUtf8IsRefusedBeforeSending) {
  Script s;
  WidgetClient client = s.client();
  auto r = client.call("PutWidget", json{{"name", std::string("w\xff")}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(r.error().message.starts_with("Widgets PutWidget: request is not valid UTF-8"))
      << r.error().message;
  EXPECT_TRUE(s.sent.empty());
  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().failed_calls, 1u);
}

}  // namespace
}  // namespace opfleet::aws
