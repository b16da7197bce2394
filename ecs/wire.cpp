#include "ecs/wire.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "aws/credentials.h"

namespace opfleet::ecs::wire {
namespace {

using nlohmann::json;

Status check_name(std::string_view parameter, std::string_view value) {
  // ECS would assume the "default" cluster for an absent one: never let an empty setting
  // act on a cluster nobody named.
  if (value.empty()) return fail(Error::invalid(fmt::format("{} must not be empty", parameter)));
  return ok();
}

Status check_list(std::string_view parameter, std::span<const std::string> items, std::size_t max) {
  if (items.empty()) return fail(Error::invalid(fmt::format("{} must not be empty", parameter)));
  if (items.size() > max) {
    return fail(Error::invalid(
        fmt::format("{}: {} entries, at most {} per call", parameter, items.size(), max)));
  }
  for (const std::string& item : items) {
    if (item.empty()) {
      return fail(Error::invalid(fmt::format("{} has an empty entry", parameter)));
    }
  }
  return ok();
}

Status check_page_size(std::optional<int> max_results) {
  if (max_results && (*max_results < 1 || *max_results > kMaxPageSize)) {
    return fail(Error::invalid(
        fmt::format("maxResults must be between 1 and {}, got {}", kMaxPageSize, *max_results)));
  }
  return ok();
}

Error malformed(std::string_view action, std::string_view what) {
  return Error::internal(fmt::format("malformed ECS {} answer: {}", action, what));
}

// Absent or null fields keep their defaults; a present field of another type is malformed.
const json* find(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status read(const json& obj, const char* name, std::string_view action, std::string* out) {
  const json* v = find(obj, name);
  if (v == nullptr) return ok();
  if (!v->is_string()) return fail(malformed(action, fmt::format("{} is not a string", name)));
  *out = v->get<std::string>();
  return ok();
}

Status read(const json& obj, const char* name, std::string_view action, int* out) {
  const json* v = find(obj, name);
  if (v == nullptr) return ok();
  if (!v->is_number_integer()) {
    return fail(malformed(action, fmt::format("{} is not an integer", name)));
  }
  *out = v->get<int>();
  return ok();
}

Status read(const json& obj, const char* name, std::string_view action, bool* out) {
  const json* v = find(obj, name);
  if (v == nullptr) return ok();
  if (!v->is_boolean()) return fail(malformed(action, fmt::format("{} is not a boolean", name)));
  *out = v->get<bool>();
  return ok();
}

// JSON 1.1 timestamps are epoch seconds with a fraction; an ISO 8601 string is accepted
// too (some emulators send one).
Status read(const json& obj, const char* name, std::string_view action,
            std::optional<Timestamp>* out) {
  const json* v = find(obj, name);
  if (v == nullptr) return ok();
  if (v->is_number()) {
    const double seconds = v->get<double>();
    if (!std::isfinite(seconds)) {
      return fail(malformed(action, fmt::format("{} is not a finite number", name)));
    }
    *out = Timestamp(
        std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double>(seconds)));
    return ok();
  }
  if (v->is_string()) {
    auto t = aws::parse_iso8601(v->get<std::string>());
    if (!t) return fail(malformed(action, fmt::format("{} is not a timestamp", name)));
    *out = *t;
    return ok();
  }
  return fail(malformed(action, fmt::format("{} is not a timestamp", name)));
}

// The array under `name`; absent or null is empty.
Result<const json*> array(const json& obj, const char* name, std::string_view action) {
  static const json kEmpty = json::array();
  const json* v = find(obj, name);
  if (v == nullptr) return &kEmpty;
  if (!v->is_array()) return fail(malformed(action, fmt::format("{} is not an array", name)));
  return v;
}

Status require_object(const json& v, std::string_view action, std::string_view what) {
  if (!v.is_object()) return fail(malformed(action, fmt::format("{} is not an object", what)));
  return ok();
}

Result<std::vector<Failure>> parse_failures(const json& answer, std::string_view action) {
  std::vector<Failure> out;
  OPFLEET_TRY(const json* failures, array(answer, "failures", action));
  for (const json& f : *failures) {
    OPFLEET_TRY_STATUS(require_object(f, action, "a failures entry"));
    Failure failure;
    OPFLEET_TRY_STATUS(read(f, "arn", action, &failure.arn));
    OPFLEET_TRY_STATUS(read(f, "reason", action, &failure.reason));
    OPFLEET_TRY_STATUS(read(f, "detail", action, &failure.detail));
    out.push_back(std::move(failure));
  }
  return out;
}

Result<Deployment> deployment_fields(const json& d, std::string_view action) {
  OPFLEET_TRY_STATUS(require_object(d, action, "a deployments entry"));
  Deployment out;
  OPFLEET_TRY_STATUS(read(d, "id", action, &out.id));
  OPFLEET_TRY_STATUS(read(d, "status", action, &out.status));
  OPFLEET_TRY_STATUS(read(d, "taskDefinition", action, &out.task_definition));
  OPFLEET_TRY_STATUS(read(d, "rolloutState", action, &out.rollout_state));
  OPFLEET_TRY_STATUS(read(d, "desiredCount", action, &out.desired_count));
  OPFLEET_TRY_STATUS(read(d, "pendingCount", action, &out.pending_count));
  OPFLEET_TRY_STATUS(read(d, "runningCount", action, &out.running_count));
  OPFLEET_TRY_STATUS(read(d, "failedTasks", action, &out.failed_tasks));
  OPFLEET_TRY_STATUS(read(d, "createdAt", action, &out.created_at));
  OPFLEET_TRY_STATUS(read(d, "updatedAt", action, &out.updated_at));
  return out;
}

Result<Service> service_fields(const json& s, std::string_view action) {
  OPFLEET_TRY_STATUS(require_object(s, action, "a service"));
  Service out;
  OPFLEET_TRY_STATUS(read(s, "serviceArn", action, &out.arn));
  OPFLEET_TRY_STATUS(read(s, "serviceName", action, &out.name));
  OPFLEET_TRY_STATUS(read(s, "clusterArn", action, &out.cluster_arn));
  OPFLEET_TRY_STATUS(read(s, "status", action, &out.status));
  OPFLEET_TRY_STATUS(read(s, "launchType", action, &out.launch_type));
  OPFLEET_TRY_STATUS(read(s, "desiredCount", action, &out.desired_count));
  OPFLEET_TRY_STATUS(read(s, "runningCount", action, &out.running_count));
  OPFLEET_TRY_STATUS(read(s, "pendingCount", action, &out.pending_count));
  OPFLEET_TRY(const json* deployments, array(s, "deployments", action));
  for (const json& d : *deployments) {
    OPFLEET_TRY(Deployment deployment, deployment_fields(d, action));
    out.deployments.push_back(std::move(deployment));
  }
  if (out.arn.empty() && out.name.empty()) {
    return fail(malformed(action, "a service has neither serviceArn nor serviceName"));
  }
  return out;
}

Result<Task> task_fields(const json& t, std::string_view action) {
  OPFLEET_TRY_STATUS(require_object(t, action, "a task"));
  Task out;
  OPFLEET_TRY_STATUS(read(t, "taskArn", action, &out.arn));
  OPFLEET_TRY_STATUS(read(t, "clusterArn", action, &out.cluster_arn));
  OPFLEET_TRY_STATUS(read(t, "taskDefinitionArn", action, &out.task_definition_arn));
  OPFLEET_TRY_STATUS(read(t, "containerInstanceArn", action, &out.container_instance_arn));
  OPFLEET_TRY_STATUS(read(t, "lastStatus", action, &out.last_status));
  OPFLEET_TRY_STATUS(read(t, "desiredStatus", action, &out.desired_status));
  OPFLEET_TRY_STATUS(read(t, "group", action, &out.group));
  OPFLEET_TRY_STATUS(read(t, "launchType", action, &out.launch_type));
  OPFLEET_TRY_STATUS(read(t, "stoppedReason", action, &out.stopped_reason));
  OPFLEET_TRY_STATUS(read(t, "createdAt", action, &out.created_at));
  OPFLEET_TRY_STATUS(read(t, "startedAt", action, &out.started_at));
  OPFLEET_TRY_STATUS(read(t, "stoppedAt", action, &out.stopped_at));
  if (out.arn.empty()) return fail(malformed(action, "a task has no taskArn"));
  return out;
}

Result<ContainerInstance> container_instance_fields(const json& c, std::string_view action) {
  OPFLEET_TRY_STATUS(require_object(c, action, "a container instance"));
  ContainerInstance out;
  OPFLEET_TRY_STATUS(read(c, "containerInstanceArn", action, &out.arn));
  OPFLEET_TRY_STATUS(read(c, "ec2InstanceId", action, &out.ec2_instance_id));
  OPFLEET_TRY_STATUS(read(c, "status", action, &out.status));
  OPFLEET_TRY_STATUS(read(c, "agentConnected", action, &out.agent_connected));
  OPFLEET_TRY_STATUS(read(c, "runningTasksCount", action, &out.running_tasks_count));
  OPFLEET_TRY_STATUS(read(c, "pendingTasksCount", action, &out.pending_tasks_count));
  if (out.arn.empty()) return fail(malformed(action, "a container instance has no ARN"));
  return out;
}

Result<ArnPage> arn_page(const json& answer, const char* field, std::string_view action) {
  ArnPage page;
  OPFLEET_TRY(const json* arns, array(answer, field, action));
  for (const json& a : *arns) {
    if (!a.is_string()) return fail(malformed(action, fmt::format("{} has a non-string", field)));
    page.arns.push_back(a.get<std::string>());
  }
  OPFLEET_TRY_STATUS(read(answer, "nextToken", action, &page.next_token));
  return page;
}

}  // namespace

Result<json> describe_services_body(std::string_view cluster,
                                    std::span<const std::string> services) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_list("services", services, kMaxDescribeServices));
  return json{{"cluster", cluster}, {"services", services}};
}

Result<json> update_service_body(std::string_view cluster, std::string_view service,
                                 int desired_count) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_name("service", service));
  if (desired_count < 0) {
    return fail(Error::invalid(fmt::format("desiredCount must be >= 0, got {}", desired_count)));
  }
  return json{{"cluster", cluster}, {"service", service}, {"desiredCount", desired_count}};
}

Result<json> list_tasks_body(const ListTasksRequest& request) {
  OPFLEET_TRY_STATUS(check_name("cluster", request.cluster));
  OPFLEET_TRY_STATUS(check_page_size(request.max_results));
  const std::string& status = request.desired_status;
  if (!status.empty() && status != task_status::kRunning && status != task_status::kPending &&
      status != task_status::kStopped) {
    return fail(Error::invalid(
        fmt::format("desiredStatus must be RUNNING, PENDING or STOPPED, got '{}'", status)));
  }
  json j = {{"cluster", request.cluster}};
  if (!request.service_name.empty()) j["serviceName"] = request.service_name;
  if (!request.container_instance.empty()) j["containerInstance"] = request.container_instance;
  if (!status.empty()) j["desiredStatus"] = status;
  if (request.max_results) j["maxResults"] = *request.max_results;
  if (!request.next_token.empty()) j["nextToken"] = request.next_token;
  return j;
}

Result<json> describe_tasks_body(std::string_view cluster, std::span<const std::string> tasks) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_list("tasks", tasks, kMaxDescribeTasks));
  return json{{"cluster", cluster}, {"tasks", tasks}};
}

Result<json> stop_task_body(std::string_view cluster, std::string_view task,
                            std::string_view reason) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_name("task", task));
  if (reason.size() > kMaxStopReason) {
    return fail(Error::invalid(fmt::format("StopTask reason has {} characters, at most {}",
                                           reason.size(), kMaxStopReason)));
  }
  json j = {{"cluster", cluster}, {"task", task}};
  if (!reason.empty()) j["reason"] = reason;
  return j;
}

Result<json> list_container_instances_body(const ListContainerInstancesRequest& request) {
  OPFLEET_TRY_STATUS(check_name("cluster", request.cluster));
  OPFLEET_TRY_STATUS(check_page_size(request.max_results));
  json j = {{"cluster", request.cluster}};
  if (!request.status.empty()) j["status"] = request.status;
  if (request.max_results) j["maxResults"] = *request.max_results;
  if (!request.next_token.empty()) j["nextToken"] = request.next_token;
  return j;
}

Result<json> update_container_instances_state_body(std::string_view cluster,
                                                   std::span<const std::string> container_instances,
                                                   InstanceStatus status) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_list("containerInstances", container_instances, kMaxUpdateInstances));
  return json{{"cluster", cluster},
              {"containerInstances", container_instances},
              {"status", to_string(status)}};
}

Result<json> get_task_protection_body(std::string_view cluster,
                                      std::span<const std::string> tasks) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_list("tasks", tasks, kMaxGetProtection));
  return json{{"cluster", cluster}, {"tasks", tasks}};
}

Result<json> update_task_protection_body(std::string_view cluster,
                                         std::span<const std::string> tasks,
                                         bool protection_enabled,
                                         std::optional<int> expires_in_minutes) {
  OPFLEET_TRY_STATUS(check_name("cluster", cluster));
  OPFLEET_TRY_STATUS(check_list("tasks", tasks, kMaxUpdateProtection));
  json j = {{"cluster", cluster}, {"tasks", tasks}, {"protectionEnabled", protection_enabled}};
  if (expires_in_minutes) {
    // ECS ignores an expiry on a request that turns protection off; asking for one is a
    // caller's mistake worth reporting.
    if (!protection_enabled) {
      return fail(Error::invalid("expiresInMinutes only applies when enabling protection"));
    }
    if (*expires_in_minutes < 1 || *expires_in_minutes > kMaxProtectionMinutes) {
      return fail(Error::invalid(fmt::format("expiresInMinutes must be between 1 and {}, got {}",
                                             kMaxProtectionMinutes, *expires_in_minutes)));
    }
    j["expiresInMinutes"] = *expires_in_minutes;
  }
  return j;
}

Result<Batch<Service>> parse_services(const json& answer) {
  constexpr std::string_view kAction = "DescribeServices";
  Batch<Service> out;
  OPFLEET_TRY(const json* services, array(answer, "services", kAction));
  for (const json& s : *services) {
    OPFLEET_TRY(Service service, service_fields(s, kAction));
    out.items.push_back(std::move(service));
  }
  OPFLEET_TRY(out.failures, parse_failures(answer, kAction));
  return out;
}

Result<Service> parse_service(const json& answer, std::string_view action) {
  const json* s = find(answer, "service");
  if (s == nullptr) return fail(malformed(action, "no service"));
  return service_fields(*s, action);
}

Result<ArnPage> parse_task_arns(const json& answer) {
  return arn_page(answer, "taskArns", "ListTasks");
}

Result<Batch<Task>> parse_tasks(const json& answer) {
  constexpr std::string_view kAction = "DescribeTasks";
  Batch<Task> out;
  OPFLEET_TRY(const json* tasks, array(answer, "tasks", kAction));
  for (const json& t : *tasks) {
    OPFLEET_TRY(Task task, task_fields(t, kAction));
    out.items.push_back(std::move(task));
  }
  OPFLEET_TRY(out.failures, parse_failures(answer, kAction));
  return out;
}

Result<Task> parse_task(const json& answer) {
  const json* t = find(answer, "task");
  if (t == nullptr) return fail(malformed("StopTask", "no task"));
  return task_fields(*t, "StopTask");
}

Result<ArnPage> parse_container_instance_arns(const json& answer) {
  return arn_page(answer, "containerInstanceArns", "ListContainerInstances");
}

Result<Batch<ContainerInstance>> parse_container_instances(const json& answer) {
  constexpr std::string_view kAction = "UpdateContainerInstancesState";
  Batch<ContainerInstance> out;
  OPFLEET_TRY(const json* instances, array(answer, "containerInstances", kAction));
  for (const json& c : *instances) {
    OPFLEET_TRY(ContainerInstance instance, container_instance_fields(c, kAction));
    out.items.push_back(std::move(instance));
  }
  OPFLEET_TRY(out.failures, parse_failures(answer, kAction));
  return out;
}

Result<Batch<ProtectedTask>> parse_protected_tasks(const json& answer, std::string_view action) {
  Batch<ProtectedTask> out;
  OPFLEET_TRY(const json* tasks, array(answer, "protectedTasks", action));
  for (const json& t : *tasks) {
    OPFLEET_TRY_STATUS(require_object(t, action, "a protectedTasks entry"));
    ProtectedTask p;
    OPFLEET_TRY_STATUS(read(t, "taskArn", action, &p.task_arn));
    OPFLEET_TRY_STATUS(read(t, "protectionEnabled", action, &p.protection_enabled));
    OPFLEET_TRY_STATUS(read(t, "expirationDate", action, &p.expiration_date));
    if (p.task_arn.empty()) return fail(malformed(action, "a protectedTasks entry has no taskArn"));
    out.items.push_back(std::move(p));
  }
  OPFLEET_TRY(out.failures, parse_failures(answer, action));
  return out;
}

}  // namespace opfleet::ecs::wire
