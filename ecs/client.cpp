#include "ecs/client.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ecs/json_service.h"
#include "ecs/wire.h"

namespace opfleet::ecs {
namespace {

using nlohmann::json;

// 1000 pages of 100 are far more tasks or instances than one cluster holds; a server
// that keeps paging past that is broken.
constexpr int kMaxPages = 1000;

// Follows nextToken until the last page, refusing a token that comes back twice (a
// server doing that would keep us here for ever).
template <class Request, class PageFn>
Result<std::vector<std::string>> all_pages(Request request, std::string_view action,
                                           PageFn&& page_fn) {
  std::vector<std::string> arns;
  std::set<std::string> seen_tokens;
  for (int page = 0; page < kMaxPages; ++page) {
    OPFLEET_TRY(ArnPage p, page_fn(request));
    arns.insert(arns.end(), std::make_move_iterator(p.arns.begin()),
                std::make_move_iterator(p.arns.end()));
    if (p.next_token.empty()) return arns;
    if (!seen_tokens.insert(p.next_token).second) {
      return fail(
          Error::internal(fmt::format("ECS {}: the same nextToken came back twice", action)));
    }
    request.next_token = std::move(p.next_token);
  }
  return fail(Error::internal(fmt::format("ECS {}: more than {} pages", action, kMaxPages)));
}

}  // namespace

Result<Client> Client::make(ClientConfig config) {
  OPFLEET_TRY(aws::JsonClient base, aws::JsonClient::make(json_service(), std::move(config)));
  return Client(std::move(base));
}

Result<Batch<Service>> Client::describe_services(std::string_view cluster,
                                                 std::span<const std::string> services) {
  OPFLEET_TRY(json body, wire::describe_services_body(cluster, services));
  OPFLEET_TRY(json answer, call("DescribeServices", body));
  return wire::parse_services(answer);
}

Result<Service> Client::describe_service(std::string_view cluster, std::string_view service) {
  const std::string name(service);
  OPFLEET_TRY(Batch<Service> batch, describe_services(cluster, std::span(&name, 1)));
  if (!batch.failures.empty()) return fail(batch.failures.front().to_error("DescribeServices"));
  if (batch.items.size() != 1) {
    return fail(Error::internal(
        fmt::format("ECS DescribeServices: {} services and no failure for one service asked for",
                    batch.items.size())));
  }
  return std::move(batch.items.front());
}

Result<Service> Client::update_desired_count(std::string_view cluster, std::string_view service,
                                             int desired_count) {
  OPFLEET_TRY(json body, wire::update_service_body(cluster, service, desired_count));
  OPFLEET_TRY(json answer, call("UpdateService", body));
  return wire::parse_service(answer, "UpdateService");
}

Result<ArnPage> Client::list_tasks_page(const ListTasksRequest& request) {
  OPFLEET_TRY(json body, wire::list_tasks_body(request));
  OPFLEET_TRY(json answer, call("ListTasks", body));
  return wire::parse_task_arns(answer);
}

Result<std::vector<std::string>> Client::list_tasks(ListTasksRequest request) {
  return all_pages(std::move(request), "ListTasks",
                   [this](const ListTasksRequest& r) { return list_tasks_page(r); });
}

Result<Batch<Task>> Client::describe_tasks(std::string_view cluster,
                                           std::span<const std::string> tasks) {
  if (tasks.empty()) return fail(Error::invalid("ECS DescribeTasks: tasks must not be empty"));
  Batch<Task> out;
  for (std::size_t at = 0; at < tasks.size(); at += wire::kMaxDescribeTasks) {
    auto chunk = tasks.subspan(at, std::min(wire::kMaxDescribeTasks, tasks.size() - at));
    OPFLEET_TRY(json body, wire::describe_tasks_body(cluster, chunk));
    OPFLEET_TRY(json answer, call("DescribeTasks", body));
    OPFLEET_TRY(Batch<Task> part, wire::parse_tasks(answer));
    std::move(part.items.begin(), part.items.end(), std::back_inserter(out.items));
    std::move(part.failures.begin(), part.failures.end(), std::back_inserter(out.failures));
  }
  return out;
}

Result<Task> Client::stop_task(std::string_view cluster, std::string_view task,
                               std::string_view reason) {
  OPFLEET_TRY(json body, wire::stop_task_body(cluster, task, reason));
  OPFLEET_TRY(json answer, call("StopTask", body));
  return wire::parse_task(answer);
}

Result<ArnPage> Client::list_container_instances_page(
    const ListContainerInstancesRequest& request) {
  OPFLEET_TRY(json body, wire::list_container_instances_body(request));
  OPFLEET_TRY(json answer, call("ListContainerInstances", body));
  return wire::parse_container_instance_arns(answer);
}

Result<std::vector<std::string>> Client::list_container_instances(
    ListContainerInstancesRequest request) {
  return all_pages(
      std::move(request), "ListContainerInstances",
      [this](const ListContainerInstancesRequest& r) { return list_container_instances_page(r); });
}

Result<Batch<ContainerInstance>> Client::update_container_instances_state(
    std::string_view cluster, std::span<const std::string> container_instances,
    InstanceStatus status) {
  OPFLEET_TRY(json body,
              wire::update_container_instances_state_body(cluster, container_instances, status));
  OPFLEET_TRY(json answer, call("UpdateContainerInstancesState", body));
  return wire::parse_container_instances(answer);
}

Result<Batch<ProtectedTask>> Client::get_task_protection(std::string_view cluster,
                                                         std::span<const std::string> tasks) {
  OPFLEET_TRY(json body, wire::get_task_protection_body(cluster, tasks));
  OPFLEET_TRY(json answer, call("GetTaskProtection", body));
  return wire::parse_protected_tasks(answer, "GetTaskProtection");
}

Result<Batch<ProtectedTask>> Client::update_task_protection(std::string_view cluster,
                                                            std::span<const std::string> tasks,
                                                            bool protection_enabled,
                                                            std::optional<int> expires_in_minutes) {
  OPFLEET_TRY(json body, wire::update_task_protection_body(cluster, tasks, protection_enabled,
                                                           expires_in_minutes));
  OPFLEET_TRY(json answer, call("UpdateTaskProtection", body));
  return wire::parse_protected_tasks(answer, "UpdateTaskProtection");
}

}  // namespace opfleet::ecs
