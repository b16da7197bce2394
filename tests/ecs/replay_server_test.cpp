// The replay server is the only ECS test double, so it must catch every way a request can
// be wrong: these tests send wrong requests on purpose and check that verify() fails and
// says what differs.
#include "tests/ecs/replay_server.h"

#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "ecs/client.h"
#include "tests/ecs/replay_client.h"

namespace opfleet::testing {
namespace {

using nlohmann::json;

std::vector<RecordedPair> one_pair() {
  return parse_recorded_pairs(R"([{
      "comment": "test pair",
      "request": {"target": "UpdateService",
                  "body": {"cluster": "opfleet", "service": "w", "desiredCount": 2}},
      "response": {"status": 200, "body": {"service": {"serviceName": "w", "desiredCount": 2}},
                   "headers": {"x-amzn-RequestId": "r-1"}}}])",
                              "inline");
}

// A request as the ECS client would send it, signed for `service`/`region`.
aws::HttpRequest signed_request(const EcsReplayServer& server, std::string target, std::string body,
                                std::string service = "ecs", std::string region = "us-east-1") {
  aws::HttpRequest r;
  r.method = "POST";
  r.url = server.endpoint() + "/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113." + target}};
  r.body = std::move(body);
  aws::Credentials creds{"AKIDEXAMPLE", "secret", "", std::nullopt, "test"};
  EXPECT_TRUE(aws::sign_request(r, creds, aws::SigningScope{region, service}));
  return r;
}

std::string all_mismatches(const EcsReplayServer& server) {
  std::string out;
  for (const std::string& m : server.mismatches()) out += m + "\n";
  return out;
}

TEST(EcsReplayServer, MatchingRequestGetsTheRecordedAnswer) {
  EcsReplayServer server(one_pair(), "us-east-1");
  aws::HttpClient http;
  auto r = http.send(signed_request(server, "UpdateService",
                                    R"({"desiredCount":2,"service":"w","cluster":"opfleet"})"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-amzn-requestid"), "r-1");
  EXPECT_EQ(json::parse(r->body)["service"]["desiredCount"], 2);
  EXPECT_TRUE(server.verify());
}

TEST(EcsReplayServer, DifferentBodyFailsWithADiff) {
  EcsReplayServer server(one_pair(), "us-east-1");
  aws::HttpClient http;
  auto r = http.send(signed_request(server, "UpdateService",
                                    R"({"cluster":"opfleet","service":"w","desiredCount":3})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["__type"], "ReplayMismatch");
  auto verdict = server.verify();
  EXPECT_FALSE(verdict);
  const std::string m = all_mismatches(server);
  EXPECT_NE(m.find("body differs"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("path":"/desiredCount")"), std::string::npos) << m;
}

TEST(EcsReplayServer, ExtraFieldIsAMismatch) {
  EcsReplayServer server(one_pair(), "us-east-1");
  aws::HttpClient http;
  ASSERT_TRUE(http.send(signed_request(
      server, "UpdateService",
      R"({"cluster":"opfleet","service":"w","desiredCount":2,"forceNewDeployment":true})")));
  EXPECT_FALSE(server.verify());
  EXPECT_NE(all_mismatches(server).find("forceNewDeployment"), std::string::npos);
}

TEST(EcsReplayServer, WrongTargetContentTypeOrScopeIsAMismatch) {
  aws::HttpClient http;
  const std::string body = R"({"cluster":"opfleet","service":"w","desiredCount":2})";
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    ASSERT_TRUE(http.send(signed_request(server, "DescribeServices", body)));
    EXPECT_FALSE(server.verify());
    EXPECT_NE(all_mismatches(server).find("X-Amz-Target"), std::string::npos);
  }
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    aws::HttpRequest r = signed_request(server, "UpdateService", body);
    r.headers[0].second = "application/x-amz-json-1.0";  // the SQS content type
    ASSERT_TRUE(http.send(r));
    EXPECT_FALSE(server.verify());
    EXPECT_NE(all_mismatches(server).find("Content-Type"), std::string::npos);
  }
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    ASSERT_TRUE(http.send(signed_request(server, "UpdateService", body, "sqs")));
    EXPECT_FALSE(server.verify());
    EXPECT_NE(all_mismatches(server).find("service sqs"), std::string::npos);
  }
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    ASSERT_TRUE(http.send(signed_request(server, "UpdateService", body, "ecs", "eu-west-1")));
    EXPECT_FALSE(server.verify());
    EXPECT_NE(all_mismatches(server).find("region eu-west-1"), std::string::npos);
  }
}

TEST(EcsReplayServer, UnsignedRequestIsAMismatch) {
  EcsReplayServer server(one_pair(), "us-east-1");
  aws::HttpClient http;
  aws::HttpRequest r;
  r.method = "POST";
  r.url = server.endpoint() + "/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.UpdateService"}};
  r.body = R"({"cluster":"opfleet","service":"w","desiredCount":2})";
  ASSERT_TRUE(http.send(r));
  EXPECT_FALSE(server.verify());
  EXPECT_NE(all_mismatches(server).find("not a SigV4 header"), std::string::npos);
}

TEST(EcsReplayServer, UnservedPairsAndExtraRequestsFailVerify) {
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    auto verdict = server.verify();
    EXPECT_FALSE(verdict);
    EXPECT_NE(std::string(verdict.message()).find("never requested"), std::string::npos);
  }
  {
    EcsReplayServer server(one_pair(), "us-east-1");
    ReplayClient rc;
    auto client = rc.make(server, {Millis(1), Millis(1), 1});
    ASSERT_TRUE(client.update_desired_count("opfleet", "w", 2));
    EXPECT_TRUE(server.verify());
    // One request more than recorded: refused, and verify() says so.
    auto extra = client.update_desired_count("opfleet", "w", 2);
    ASSERT_FALSE(extra);
    EXPECT_EQ(extra.error().code, "ReplayMismatch");
    EXPECT_FALSE(server.verify());
    EXPECT_NE(all_mismatches(server).find("after the 1 recorded pairs"), std::string::npos);
  }
}

TEST(EcsReplayServer, MalformedScenarioFilesAreRejected) {
  EXPECT_THROW(parse_recorded_pairs("{}", "t"), std::runtime_error);
  EXPECT_THROW(parse_recorded_pairs("[]", "t"), std::runtime_error);
  EXPECT_THROW(parse_recorded_pairs(R"([{"request":{"body":{}},"response":{"body":{}}}])", "t"),
               std::runtime_error);
  EXPECT_THROW(parse_recorded_pairs(R"([{"request":{"target":"X","body":{}},"response":{}}])", "t"),
               std::runtime_error);
  EXPECT_THROW(load_recorded_pairs("no_such_scenario"), std::runtime_error);
}

TEST(EcsReplayServer, EveryRecordedScenarioParsesAndCitesItsSource) {
  // Each shape comes from the API reference, and each pair says where.
  for (const char* scenario : {"describe_services",
                               "update_service",
                               "list_tasks_pages",
                               "list_tasks_repeated_token",
                               "describe_tasks",
                               "stop_task",
                               "list_container_instances",
                               "container_instance_state",
                               "task_protection",
                               "errors",
                               "retry_then_success",
                               "throttled_exhausted",
                               "breaker",
                               "actuator_read_set",
                               "actuator_read_inactive",
                               "actuator_kill",
                               "actuator_kill_none_running",
                               "actuator_drain_fleet",
                               "actuator_drain_fleet_timeout",
                               "actuator_drain_host",
                               "actuator_drain_host_fargate"}) {
    SCOPED_TRACE(scenario);
    auto pairs = load_recorded_pairs(scenario);
    for (const RecordedPair& p : pairs) {
      EXPECT_NE(p.comment.find("https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"),
                std::string::npos)
          << p.target;
    }
  }
}

}  // namespace
}  // namespace opfleet::testing
