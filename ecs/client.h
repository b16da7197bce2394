// An ECS client over the JSON 1.1 protocol (see ecs/wire.h for the wire format), for the
// calls the scaler and the failure simulation need, on the shared AWS JSON client
// (aws/json_client.h), which gives it its retries and circuit breaker, its counters
// (stats()) and the breaker's state.
//
// Each call is retried on retryable errors (ThrottlingException, ServerException, 5xx,
// network, timeouts) with full-jitter exponential backoff, one warn log line "ecs_retry"
// per retry; non-retryable errors (bad parameters, unknown cluster or service, access
// denied) come back at once. A circuit breaker counts consecutive failed attempts that look
// like an outage (network, timeout, 5xx) across calls: once open, calls fail fast with a
// retryable kUnavailable error (code "CircuitOpen") until a trial call succeeds, so a
// caller's loop must back off too (retry_after() says for how long). Errors are returned,
// not logged: the caller decides what a failure means.
//
// Every call here is idempotent (set a count, stop a task, set a state), so repeating a
// request whose answer was lost does no harm.
//
// Items a batch call could not act on (an unknown task in DescribeTasks, ...) are not
// errors of the call: they come back in Batch::failures.
//
// Not thread-safe: one Client owns one HTTP connection (a curl handle); use one client
// per thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/json_client.h"
#include "common/result.h"
#include "ecs/client_config.h"
#include "ecs/types.h"

namespace opfleet::ecs {

class Client : public aws::JsonClient {
 public:
  // Fails with kInvalid when the endpoint is not an absolute http(s) URL or the region is
  // empty.
  static Result<Client> make(ClientConfig config);

  // DescribeServices for up to 10 services; the ones ECS does not know are failures
  // (reason MISSING).
  Result<Batch<Service>> describe_services(std::string_view cluster,
                                           std::span<const std::string> services);
  // One service: kNotFound (code MISSING) when ECS does not know it.
  Result<Service> describe_service(std::string_view cluster, std::string_view service);

  // UpdateService with a new desiredCount only (the rest of the service is left as it is);
  // returns the service as ECS describes it after the update.
  Result<Service> update_desired_count(std::string_view cluster, std::string_view service,
                                       int desired_count);

  // One page of ListTasks, and every page from request.next_token on.
  Result<ArnPage> list_tasks_page(const ListTasksRequest& request);
  Result<std::vector<std::string>> list_tasks(ListTasksRequest request);

  // DescribeTasks, in calls of up to 100 tasks.
  Result<Batch<Task>> describe_tasks(std::string_view cluster, std::span<const std::string> tasks);

  // StopTask; `reason` (at most 255 characters) shows in DescribeTasks' stoppedReason.
  Result<Task> stop_task(std::string_view cluster, std::string_view task, std::string_view reason);

  Result<ArnPage> list_container_instances_page(const ListContainerInstancesRequest& request);
  Result<std::vector<std::string>> list_container_instances(ListContainerInstancesRequest request);

  // UpdateContainerInstancesState for up to 10 instances (DRAINING or back to ACTIVE).
  Result<Batch<ContainerInstance>> update_container_instances_state(
      std::string_view cluster, std::span<const std::string> container_instances,
      InstanceStatus status);

  // Task scale-in protection (tasks of a service only; others come back as failures,
  // reason TASK_NOT_VALID). GetTaskProtection takes up to 100 tasks, UpdateTaskProtection
  // up to 10; `expires_in_minutes` (1..2880, ECS's default 120) only when enabling.
  Result<Batch<ProtectedTask>> get_task_protection(std::string_view cluster,
                                                   std::span<const std::string> tasks);
  Result<Batch<ProtectedTask>> update_task_protection(std::string_view cluster,
                                                      std::span<const std::string> tasks,
                                                      bool protection_enabled,
                                                      std::optional<int> expires_in_minutes = {});

 private:
  explicit Client(aws::JsonClient base) : aws::JsonClient(std::move(base)) {}
};

}  // namespace opfleet::ecs
