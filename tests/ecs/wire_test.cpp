// The ECS JSON 1.1 wire format without I/O: request validation against the API's limits
// and answers that are not what the API reference promises.
#include "ecs/wire.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace opfleet::ecs::wire {
namespace {

using nlohmann::json;

std::vector<std::string> names(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("t" + std::to_string(i));
  return out;
}

TEST(EcsWire, ListTasksCarriesOnlyTheFiltersGiven) {
  ListTasksRequest r;
  r.cluster = "opfleet";
  EXPECT_EQ(list_tasks_body(r).value(), (json{{"cluster", "opfleet"}}));
  r.container_instance = "ci";
  r.desired_status = "STOPPED";
  r.max_results = 100;
  r.next_token = "tok";
  EXPECT_EQ(list_tasks_body(r).value(), (json{{"cluster", "opfleet"},
                                              {"containerInstance", "ci"},
                                              {"desiredStatus", "STOPPED"},
                                              {"maxResults", 100},
                                              {"nextToken", "tok"}}));
  r.max_results = 101;
  EXPECT_EQ(list_tasks_body(r).error().kind, ErrorKind::kInvalid);
  r.max_results = 0;
  EXPECT_FALSE(list_tasks_body(r));
  r.max_results.reset();
  r.desired_status = "running";
  EXPECT_FALSE(list_tasks_body(r));
  r.desired_status.clear();
  r.cluster.clear();  // never let ECS pick its "default" cluster
  EXPECT_FALSE(list_tasks_body(r));
}

TEST(EcsWire, BatchLimitsOfTheApiReferenceAreEnforced) {
  EXPECT_TRUE(describe_services_body("c", names(10)));
  EXPECT_FALSE(describe_services_body("c", names(11)));
  EXPECT_FALSE(describe_services_body("c", {}));
  EXPECT_TRUE(describe_tasks_body("c", names(100)));
  EXPECT_FALSE(describe_tasks_body("c", names(101)));
  EXPECT_TRUE(update_container_instances_state_body("c", names(10), InstanceStatus::kDraining));
  EXPECT_FALSE(update_container_instances_state_body("c", names(11), InstanceStatus::kDraining));
  EXPECT_TRUE(get_task_protection_body("c", names(100)));
  EXPECT_FALSE(get_task_protection_body("c", names(101)));
  EXPECT_TRUE(update_task_protection_body("c", names(10), true, std::nullopt));
  EXPECT_FALSE(update_task_protection_body("c", names(11), true, std::nullopt));
  const std::vector<std::string> with_empty = {"a", ""};
  EXPECT_FALSE(describe_tasks_body("c", with_empty));
}

TEST(EcsWire, TaskProtectionExpiryOnlyWhenEnablingAndWithinTwoDays) {
  const std::vector<std::string> t = {"t"};
  EXPECT_EQ(update_task_protection_body("c", t, true, 2880).value()["expiresInMinutes"], 2880);
  EXPECT_FALSE(update_task_protection_body("c", t, true, 0));
  EXPECT_FALSE(update_task_protection_body("c", t, true, 2881));
  EXPECT_FALSE(update_task_protection_body("c", t, false, 10));
  EXPECT_FALSE(update_task_protection_body("c", t, false, std::nullopt)
                   .value()
                   .contains("expiresInMinutes"));
}

TEST(EcsWire, StopTaskReasonIsOptionalAndBounded) {
  EXPECT_EQ(stop_task_body("c", "t", "").value(), (json{{"cluster", "c"}, {"task", "t"}}));
  EXPECT_TRUE(stop_task_body("c", "t", std::string(255, 'r')));
  EXPECT_FALSE(stop_task_body("c", "t", std::string(256, 'r')));
  EXPECT_FALSE(stop_task_body("c", "", "r"));
}

TEST(EcsWire, MalformedAnswersAreInternalErrorsNamingTheField) {
  auto bad_count =
      parse_services(json::parse(R"({"services":[{"serviceName":"s","desiredCount":"3"}]})"));
  ASSERT_FALSE(bad_count);
  EXPECT_EQ(bad_count.error().kind, ErrorKind::kInternal);
  EXPECT_NE(bad_count.error().message.find("desiredCount"), std::string::npos);

  EXPECT_FALSE(parse_services(json::parse(R"({"services":{}})")));
  EXPECT_FALSE(parse_services(json::parse(R"({"services":[{"desiredCount":3}]})")));
  EXPECT_FALSE(parse_task(json::parse(R"({})")));
  EXPECT_FALSE(parse_task(json::parse(R"({"task":{"lastStatus":"RUNNING"}})")));
  EXPECT_FALSE(parse_tasks(json::parse(R"({"tasks":[{"taskArn":"t","startedAt":true}]})")));
  EXPECT_FALSE(parse_task_arns(json::parse(R"({"taskArns":[1]})")));
  EXPECT_FALSE(parse_service(json::parse(R"({"service":null})"), "UpdateService"));
  EXPECT_FALSE(parse_protected_tasks(json::parse(R"({"failures":[3]})"), "GetTaskProtection"));
}

TEST(EcsWire, AbsentFieldsKeepDefaultsAndTimestampsAcceptIso8601) {
  auto tasks = parse_tasks(
      json::parse(R"({"tasks":[{"taskArn":"t","startedAt":"2024-06-10T06:15:05.5Z"}]})"));
  ASSERT_TRUE(tasks) << tasks.error().describe();
  ASSERT_EQ(tasks->items.size(), 1u);
  EXPECT_TRUE(tasks->items[0].last_status.empty());
  EXPECT_TRUE(tasks->failures.empty());
  ASSERT_TRUE(tasks->items[0].started_at);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(
                tasks->items[0].started_at->time_since_epoch())
                .count(),
            1718000105500);
  auto empty = parse_task_arns(json::object());
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->arns.empty());
  EXPECT_TRUE(empty->next_token.empty());
}

}  // namespace
}  // namespace opfleet::ecs::wire
