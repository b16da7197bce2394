// Each ECS call against recorded request/response pairs (tests/ecs/recorded/*.json): the
// replay server asserts the target, content type, SigV4 shape and exact JSON body of every
// request; these tests check what the client makes of each answer.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "ecs/client.h"
#include "ecs/wire.h"
#include "tests/ecs/replay_client.h"
#include "tests/ecs/replay_server.h"

namespace opfleet::ecs {
namespace {

using opfleet::testing::EcsReplayServer;
using opfleet::testing::ReplayClient;

constexpr const char* kCluster = "opfleet";
constexpr const char* kService = "opfleet-worker";
constexpr const char* kServiceArn =
    "arn:aws:ecs:us-east-1:123456789012:service/opfleet/opfleet-worker";

std::string task_arn(const char* id) {
  return std::string("arn:aws:ecs:us-east-1:123456789012:task/opfleet/") + id;
}
std::string instance_arn(const char* id) {
  return std::string("arn:aws:ecs:us-east-1:123456789012:container-instance/opfleet/") + id;
}
double epoch_seconds(Timestamp t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

const std::string kTaskA = task_arn("0a1b2c3d4e5f40718293a4b5c6d7e8f9");
const std::string kTaskB = task_arn("1b2c3d4e5f60718293a4b5c6d7e8f90a");
const std::string kTaskC = task_arn("2c3d4e5f6071829304b5c6d7e8f90a1b");
const std::string kTaskD = task_arn("3d4e5f607182930415c6d7e8f90a1b2c");
const std::string kTaskE = task_arn("4e5f6071829304152637d8e9f0a1b2c3");
const std::string kTaskSolo = task_arn("60718293041526374859f0a1b2c3d4e5");
const std::string kInstanceA = instance_arn("8c3b6a0e2f4d4e1b9a7c5d3e1f2a4b6c");
const std::string kInstanceB = instance_arn("9d4c7b1f3a5e4f2c8b6d4e2f1a3b5c7d");
const std::string kInstanceC = instance_arn("ae5d8c2a4b6f403d9c7e5f3a2b4c6d8e");

TEST(EcsClient, DescribeServiceReadsCountsStatusAndDeployments) {
  EcsReplayServer server("describe_services");
  ReplayClient rc;
  Client client = rc.make(server);

  auto s = client.describe_service(kCluster, kService);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(s->arn, kServiceArn);
  EXPECT_EQ(s->name, kService);
  EXPECT_EQ(s->cluster_arn, "arn:aws:ecs:us-east-1:123456789012:cluster/opfleet");
  EXPECT_EQ(s->status, "ACTIVE");
  EXPECT_EQ(s->launch_type, "EC2");
  EXPECT_EQ(s->desired_count, 6);
  EXPECT_EQ(s->running_count, 4);
  EXPECT_EQ(s->pending_count, 1);
  ASSERT_EQ(s->deployments.size(), 2u);
  const Deployment& primary = s->deployments[0];
  EXPECT_EQ(primary.id, "ecs-svc/4629184054912307391");
  EXPECT_EQ(primary.status, "PRIMARY");
  EXPECT_EQ(primary.rollout_state, "IN_PROGRESS");
  EXPECT_EQ(primary.task_definition,
            "arn:aws:ecs:us-east-1:123456789012:task-definition/opfleet-worker:7");
  EXPECT_EQ(primary.desired_count, 6);
  EXPECT_EQ(primary.pending_count, 1);
  EXPECT_EQ(primary.running_count, 3);
  ASSERT_TRUE(primary.updated_at);
  EXPECT_DOUBLE_EQ(epoch_seconds(*primary.updated_at), 1718000600.25);
  const Deployment& old = s->deployments[1];
  EXPECT_EQ(old.status, "ACTIVE");
  EXPECT_EQ(old.running_count, 1);
  EXPECT_EQ(old.failed_tasks, 2);

  // A service ECS does not know is a failure entry, which describe_service turns into
  // kNotFound.
  auto missing = client.describe_service(kCluster, "retired-worker");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().code, "MISSING");
  EXPECT_FALSE(missing.error().retryable);
  EXPECT_NE(missing.error().message.find("retired-worker"), std::string::npos)
      << missing.error().message;
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, UpdateDesiredCountSendsOnlyTheCountAndReadsTheServiceBack) {
  EcsReplayServer server("update_service");
  ReplayClient rc;
  Client client = rc.make(server);

  auto s = client.update_desired_count(kCluster, kService, 7);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ(s->desired_count, 7);
  EXPECT_EQ(s->running_count, 4);
  EXPECT_EQ(client.stats().calls, 1u);
  EXPECT_EQ(client.stats().attempts, 1u);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, ListTasksFollowsNextTokenWithTheSameFilters) {
  EcsReplayServer server("list_tasks_pages");
  ReplayClient rc;
  Client client = rc.make(server);

  ListTasksRequest request;
  request.cluster = kCluster;
  request.service_name = kService;
  request.desired_status = task_status::kRunning;
  request.max_results = 2;
  auto arns = client.list_tasks(request);
  ASSERT_TRUE(arns) << arns.error().describe();
  EXPECT_EQ(*arns, (std::vector<std::string>{kTaskA, kTaskB, kTaskC, kTaskD, kTaskE}));
  EXPECT_EQ(client.stats().calls, 3u);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, ListTasksPageReturnsTheTokenToTheCaller) {
  EcsReplayServer server("list_tasks_pages");
  ReplayClient rc;
  Client client = rc.make(server);

  ListTasksRequest request{kCluster, kService, {}, task_status::kRunning, 2, {}};
  auto first = client.list_tasks_page(request);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->arns, (std::vector<std::string>{kTaskA, kTaskB}));
  EXPECT_EQ(first->next_token, "eyJ0b2tlbiI6IjIifQ==");
  // The rest, from that token on.
  request.next_token = first->next_token;
  auto rest = client.list_tasks(request);
  ASSERT_TRUE(rest) << rest.error().describe();
  EXPECT_EQ(*rest, (std::vector<std::string>{kTaskC, kTaskD, kTaskE}));
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, ListTasksStopsWhenATokenComesBackTwice) {
  EcsReplayServer server("list_tasks_repeated_token");
  ReplayClient rc;
  Client client = rc.make(server);

  ListTasksRequest request;
  request.cluster = kCluster;
  request.service_name = kService;
  auto arns = client.list_tasks(request);
  ASSERT_FALSE(arns);
  EXPECT_EQ(arns.error().kind, ErrorKind::kInternal);
  EXPECT_NE(arns.error().message.find("nextToken"), std::string::npos) << arns.error().message;
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, DescribeTasksReadsStatusesInstanceTimesAndFailures) {
  EcsReplayServer server("describe_tasks");
  ReplayClient rc;
  Client client = rc.make(server);

  const std::vector<std::string> arns = {kTaskA, kTaskB, kTaskC};
  auto batch = client.describe_tasks(kCluster, arns);
  ASSERT_TRUE(batch) << batch.error().describe();
  ASSERT_EQ(batch->items.size(), 2u);
  const Task& a = batch->items[0];
  EXPECT_EQ(a.arn, kTaskA);
  EXPECT_EQ(a.last_status, "RUNNING");
  EXPECT_EQ(a.desired_status, "RUNNING");
  EXPECT_EQ(a.container_instance_arn, kInstanceA);
  EXPECT_EQ(a.group, "service:opfleet-worker");
  EXPECT_EQ(a.launch_type, "EC2");
  ASSERT_TRUE(a.started_at);
  EXPECT_DOUBLE_EQ(epoch_seconds(*a.started_at), 1718000105.5);
  ASSERT_TRUE(a.created_at);
  EXPECT_DOUBLE_EQ(epoch_seconds(*a.created_at), 1718000100.125);
  const Task& b = batch->items[1];
  EXPECT_EQ(b.last_status, "PENDING");
  EXPECT_EQ(b.container_instance_arn, kInstanceB);
  EXPECT_FALSE(b.started_at);
  ASSERT_EQ(batch->failures.size(), 1u);
  EXPECT_EQ(batch->failures[0].arn, kTaskC);
  EXPECT_EQ(batch->failures[0].reason, "MISSING");
  EXPECT_EQ(batch->failures[0].to_error("DescribeTasks").kind, ErrorKind::kNotFound);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, StopTaskSendsTheReasonAndReadsTheStoppingTask) {
  EcsReplayServer server("stop_task");
  ReplayClient rc;
  Client client = rc.make(server);

  auto t = client.stop_task(kCluster, kTaskA, "opfleet failure simulation");
  ASSERT_TRUE(t) << t.error().describe();
  EXPECT_EQ(t->arn, kTaskA);
  EXPECT_EQ(t->desired_status, "STOPPED");
  EXPECT_EQ(t->stopped_reason, "opfleet failure simulation");
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, ListContainerInstancesFollowsNextToken) {
  EcsReplayServer server("list_container_instances");
  ReplayClient rc;
  Client client = rc.make(server);

  ListContainerInstancesRequest request;
  request.cluster = kCluster;
  request.status = "ACTIVE";
  auto arns = client.list_container_instances(request);
  ASSERT_TRUE(arns) << arns.error().describe();
  EXPECT_EQ(*arns, (std::vector<std::string>{kInstanceA, kInstanceB, kInstanceC}));
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, UpdateContainerInstancesStateDrainsRestoresAndReportsFailures) {
  EcsReplayServer server("container_instance_state");
  ReplayClient rc;
  Client client = rc.make(server);

  auto drained = client.update_container_instances_state(kCluster, std::span(&kInstanceA, 1),
                                                         InstanceStatus::kDraining);
  ASSERT_TRUE(drained) << drained.error().describe();
  ASSERT_EQ(drained->items.size(), 1u);
  EXPECT_EQ(drained->items[0].arn, kInstanceA);
  EXPECT_EQ(drained->items[0].status, "DRAINING");
  EXPECT_EQ(drained->items[0].ec2_instance_id, "i-0a1b2c3d4e5f60718");
  EXPECT_TRUE(drained->items[0].agent_connected);
  EXPECT_EQ(drained->items[0].running_tasks_count, 2);
  EXPECT_TRUE(drained->failures.empty());

  auto active = client.update_container_instances_state(kCluster, std::span(&kInstanceA, 1),
                                                        InstanceStatus::kActive);
  ASSERT_TRUE(active) << active.error().describe();
  ASSERT_EQ(active->items.size(), 1u);
  EXPECT_EQ(active->items[0].status, "ACTIVE");

  // An unknown instance: the call succeeds, the instance is a failure.
  auto unknown = client.update_container_instances_state(kCluster, std::span(&kInstanceB, 1),
                                                         InstanceStatus::kDraining);
  ASSERT_TRUE(unknown) << unknown.error().describe();
  EXPECT_TRUE(unknown->items.empty());
  ASSERT_EQ(unknown->failures.size(), 1u);
  EXPECT_EQ(unknown->failures[0].arn, kInstanceB);
  EXPECT_EQ(unknown->failures[0].reason, "MISSING");
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, TaskProtectionEnableReadAndDisable) {
  EcsReplayServer server("task_protection");
  ReplayClient rc;
  Client client = rc.make(server);

  auto enabled = client.update_task_protection(kCluster, std::span(&kTaskA, 1), true, 60);
  ASSERT_TRUE(enabled) << enabled.error().describe();
  ASSERT_EQ(enabled->items.size(), 1u);
  EXPECT_EQ(enabled->items[0].task_arn, kTaskA);
  EXPECT_TRUE(enabled->items[0].protection_enabled);
  ASSERT_TRUE(enabled->items[0].expiration_date);
  EXPECT_DOUBLE_EQ(epoch_seconds(*enabled->items[0].expiration_date), 1718004000.0);

  const std::vector<std::string> both = {kTaskA, kTaskSolo};
  auto read = client.get_task_protection(kCluster, both);
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_EQ(read->items.size(), 1u);
  EXPECT_TRUE(read->items[0].protection_enabled);
  // A task outside any service cannot be protected.
  ASSERT_EQ(read->failures.size(), 1u);
  EXPECT_EQ(read->failures[0].arn, kTaskSolo);
  EXPECT_EQ(read->failures[0].reason, "TASK_NOT_VALID");
  const Error e = read->failures[0].to_error("GetTaskProtection");
  EXPECT_EQ(e.kind, ErrorKind::kInvalid);
  EXPECT_NE(e.message.find("not part of an Amazon ECS service"), std::string::npos) << e.message;

  auto disabled = client.update_task_protection(kCluster, std::span(&kTaskA, 1), false);
  ASSERT_TRUE(disabled) << disabled.error().describe();
  ASSERT_EQ(disabled->items.size(), 1u);
  EXPECT_FALSE(disabled->items[0].protection_enabled);
  EXPECT_FALSE(disabled->items[0].expiration_date);
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, InvalidArgumentsAreRefusedBeforeAnythingIsSent) {
  EcsReplayServer server("update_service");
  ReplayClient rc;
  Client client = rc.make(server);

  EXPECT_EQ(client.update_desired_count(kCluster, kService, -1).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(client.update_desired_count("", kService, 1).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(client.stop_task(kCluster, kTaskA, std::string(256, 'x')).error().kind,
            ErrorKind::kInvalid);
  EXPECT_EQ(client.update_task_protection(kCluster, std::span(&kTaskA, 1), true, 2881).error().kind,
            ErrorKind::kInvalid);
  EXPECT_EQ(client.describe_tasks(kCluster, {}).error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(server.served(), 0u);
  EXPECT_EQ(client.stats().attempts, 0u);
  // The recorded pair is still there to be used: the client works after refusals.
  ASSERT_TRUE(client.update_desired_count(kCluster, kService, 7));
  EXPECT_TRUE(server.verify());
}

TEST(EcsClient, EndpointDefaultsToTheRegionalAwsEndpoint) {
  ClientConfig c;
  c.region = "eu-west-1";
  c.credentials = aws::static_credentials({"AKIDEXAMPLE", "secret", "", std::nullopt, "test"});
  auto client = Client::make(c);
  ASSERT_TRUE(client) << client.error().describe();
  EXPECT_EQ(client->url(), "https://ecs.eu-west-1.amazonaws.com/");
  c.region = "cn-north-1";
  EXPECT_EQ(Client::make(c)->url(), "https://ecs.cn-north-1.amazonaws.com.cn/");
  c.endpoint = "localhost:4566";
  EXPECT_EQ(Client::make(c).error().kind, ErrorKind::kInvalid);
  c.endpoint = "http://localhost:4566/?x=1";
  EXPECT_EQ(Client::make(c).error().kind, ErrorKind::kInvalid);
  c.endpoint = "http://localhost:4566";
  EXPECT_EQ(Client::make(c)->url(), "http://localhost:4566/");
}

}  // namespace
}  // namespace opfleet::ecs
