// The ECS JSON 1.1 protocol without any I/O: request bodies (validated before anything is
// sent) and the parsing of answers. Kept apart from the client so that unit tests can
// check every byte that would go on the wire; the HTTP request that carries a body is
// aws/json_wire.h's, with ecs::json_service() (ecs/json_service.h).
//
// Every request is `POST /` to the configured endpoint with
//   Content-Type: application/x-amz-json-1.1
//   X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>
// signed with SigV4 for service "ecs". Request and response shapes are those of the
// Amazon ECS API reference, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
// (API_<Action>.html), which tests/ecs/recorded/*.json cite pair by pair.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "ecs/types.h"

namespace opfleet::ecs::wire {

inline constexpr std::string_view kContentType = "application/x-amz-json-1.1";
inline constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerServiceV20141113.";

// Limits from the API reference, checked before sending so the error is ours and clear.
inline constexpr std::size_t kMaxDescribeServices = 10;
inline constexpr std::size_t kMaxDescribeTasks = 100;
inline constexpr std::size_t kMaxUpdateInstances = 10;
inline constexpr std::size_t kMaxGetProtection = 100;
inline constexpr std::size_t kMaxUpdateProtection = 10;
inline constexpr int kMaxPageSize = 100;            // ListTasks, ListContainerInstances
inline constexpr std::size_t kMaxStopReason = 255;  // StopTask reason
inline constexpr int kMaxProtectionMinutes = 2880;  // UpdateTaskProtection, 48 h

// Request bodies. Each validates what ECS would reject, with the parameter named.
Result<nlohmann::json> describe_services_body(std::string_view cluster,
                                              std::span<const std::string> services);
Result<nlohmann::json> update_service_body(std::string_view cluster, std::string_view service,
                                           int desired_count);
Result<nlohmann::json> list_tasks_body(const ListTasksRequest& request);
Result<nlohmann::json> describe_tasks_body(std::string_view cluster,
                                           std::span<const std::string> tasks);
Result<nlohmann::json> stop_task_body(std::string_view cluster, std::string_view task,
                                      std::string_view reason);
Result<nlohmann::json> list_container_instances_body(const ListContainerInstancesRequest& request);
Result<nlohmann::json> update_container_instances_state_body(
    std::string_view cluster, std::span<const std::string> container_instances,
    InstanceStatus status);
Result<nlohmann::json> get_task_protection_body(std::string_view cluster,
                                                std::span<const std::string> tasks);
Result<nlohmann::json> update_task_protection_body(std::string_view cluster,
                                                   std::span<const std::string> tasks,
                                                   bool protection_enabled,
                                                   std::optional<int> expires_in_minutes);

// Answers. A field of the wrong type is a kInternal error naming the action and field;
// absent optional fields keep their defaults (ECS omits empty ones).
Result<Batch<Service>> parse_services(const nlohmann::json& answer);  // DescribeServices
Result<Service> parse_service(const nlohmann::json& answer,
                              std::string_view action);         // UpdateService: "service"
Result<ArnPage> parse_task_arns(const nlohmann::json& answer);  // ListTasks
Result<Batch<Task>> parse_tasks(const nlohmann::json& answer);  // DescribeTasks
Result<Task> parse_task(const nlohmann::json& answer);          // StopTask: "task"
Result<ArnPage> parse_container_instance_arns(const nlohmann::json& answer);
Result<Batch<ContainerInstance>> parse_container_instances(const nlohmann::json& answer);
Result<Batch<ProtectedTask>> parse_protected_tasks(const nlohmann::json& answer,
                                                   std::string_view action);

}  // namespace opfleet::ecs::wire
