// Plain data exchanged with ECS: the parts of services, tasks, container instances and
// task protection that opfleet reads, and the per-item failures of batch calls. Field
// names follow the ECS API reference (JSON 1.1) so the mapping in ecs/wire.cpp stays
// obvious; fields opfleet does not use are not parsed.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace opfleet::ecs {

// ECS sends timestamps as epoch seconds (fractional) in JSON numbers.
using Timestamp = std::chrono::system_clock::time_point;

// Values of Task.lastStatus / desiredStatus and the ListTasks desiredStatus filter.
namespace task_status {
inline constexpr const char* kRunning = "RUNNING";
inline constexpr const char* kPending = "PENDING";
inline constexpr const char* kStopped = "STOPPED";
}  // namespace task_status

// Container instance states UpdateContainerInstancesState can set.
enum class InstanceStatus { kActive, kDraining };
const char* to_string(InstanceStatus s);  // "ACTIVE", "DRAINING"

// One entry of a call's "failures": an item (service, task, instance) the call could not
// act on, while the call itself succeeded. Reasons: "MISSING" (no such item),
// "TASK_NOT_VALID", "INACTIVE", ...
struct Failure {
  std::string arn{};
  std::string reason{};
  std::string detail{};

  // The failure as a typed error: MISSING -> kNotFound, others kInvalid; never retryable.
  Error to_error(std::string_view action) const;
};

// A service deployment (the primary one and those being replaced).
struct Deployment {
  std::string id{};
  std::string status{};  // PRIMARY, ACTIVE, INACTIVE
  std::string task_definition{};
  std::string rollout_state{};  // COMPLETED, IN_PROGRESS, FAILED (absent on old services)
  int desired_count = 0;
  int pending_count = 0;
  int running_count = 0;
  int failed_tasks = 0;
  std::optional<Timestamp> created_at{};
  std::optional<Timestamp> updated_at{};
};

struct Service {
  std::string arn{};
  std::string name{};
  std::string cluster_arn{};
  std::string status{};  // ACTIVE, DRAINING, INACTIVE
  std::string launch_type{};
  int desired_count = 0;
  int running_count = 0;
  int pending_count = 0;
  std::vector<Deployment> deployments{};
};

struct Task {
  std::string arn{};
  std::string cluster_arn{};
  std::string task_definition_arn{};
  std::string container_instance_arn{};  // empty on Fargate
  std::string last_status{};             // PROVISIONING, PENDING, RUNNING, STOPPED, ...
  std::string desired_status{};          // RUNNING or STOPPED
  std::string group{};                   // "service:<name>" for a service's tasks
  std::string launch_type{};
  std::string stopped_reason{};
  std::optional<Timestamp> created_at{};
  std::optional<Timestamp> started_at{};
  std::optional<Timestamp> stopped_at{};
};

struct ContainerInstance {
  std::string arn{};
  std::string ec2_instance_id{};
  std::string status{};  // ACTIVE, DRAINING, REGISTERING, ...
  bool agent_connected = false;
  int running_tasks_count = 0;
  int pending_tasks_count = 0;
};

struct ProtectedTask {
  std::string task_arn{};
  bool protection_enabled = false;
  std::optional<Timestamp> expiration_date{};
};

// The answer of a Describe*/Update* call on several items: what it returned and what it
// could not act on.
template <class T>
struct Batch {
  std::vector<T> items{};
  std::vector<Failure> failures{};
};

struct ListTasksRequest {
  std::string cluster{};
  std::string service_name{};        // empty: every task of the cluster
  std::string container_instance{};  // empty: any instance
  std::string desired_status{};      // RUNNING (ECS's default when empty) or STOPPED
  std::optional<int> max_results{};  // 1..100 per page; ECS's default is 100
  std::string next_token{};
};

struct ListContainerInstancesRequest {
  std::string cluster{};
  std::string status{};  // ACTIVE, DRAINING, ...; empty: every status but INACTIVE
  std::optional<int> max_results{};
  std::string next_token{};
};

// One page of a List* call.
struct ArnPage {
  std::vector<std::string> arns{};
  std::string next_token{};  // empty on the last page
};

}  // namespace opfleet::ecs
