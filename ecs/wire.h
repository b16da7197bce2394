// The ECS JSON 1.1 protocol without any I/O: request bodies (validated before anything is
// sent), the HTTP request that carries them, and the parsing of answers. Kept apart from
// the client so that unit tests can check every byte that would go on the wire.
//
// Every request is `POST /` to the configured endpoint with
//   Content-Type: application/x-amz-json-1.1
//   X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>
// signed with SigV4 for service "ecs". Request and response shapes are those of the
// Amazon ECS API reference, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
// (API_<Action>.html), which tests/ecs/recorded/*.json cite pair by pair.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/http.h"
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

// "https://ecs.eu-west-1.amazonaws.com" for a region (".amazonaws.com.cn" in China).
std::string default_endpoint(std::string_view region);

// The URL every request is posted to: the endpoint with its path ("/" when none).
// Rejects endpoints that are not absolute http(s) URLs or carry a query string.
Result<std::string> request_url(std::string_view endpoint);

// The unsigned HTTP request for `action` with `body` (already serialized JSON).
aws::HttpRequest build_request(const std::string& url, std::string_view action, std::string body);

// JSON text of a request body; kInvalid when a string is not valid UTF-8.
Result<std::string> serialize(const nlohmann::json& body);

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
