#include "scaler/ecs_actuator.h"

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::scaler {
namespace {

// "arn:aws:ecs:eu-west-1:123456789012:service/cluster/name" (or the older
// ".../service/name") -> "name"; a short name stays as it is.
std::string short_name(const std::string& name_or_arn) {
  auto slash = name_or_arn.rfind('/');
  return slash == std::string::npos ? name_or_arn : name_or_arn.substr(slash + 1);
}

}  // namespace

std::function<std::size_t(std::size_t)> uniform_picker(std::uint64_t seed) {
  // Shared: the std::function may be copied, and copies must not replay the same draws.
  return [rng = std::make_shared<std::mt19937_64>(seed)](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(*rng);
  };
}

Result<EcsActuator> EcsActuator::make(ecs::Client client, EcsActuatorOptions options) {
  if (options.cluster.empty()) return fail(Error::invalid("ECS actuator: no cluster configured"));
  if (options.service.empty()) return fail(Error::invalid("ECS actuator: no service configured"));
  if (options.poll_interval <= Millis(0)) {
    return fail(Error::invalid("ECS actuator: the poll interval must be positive"));
  }
  if (!options.pick) options.pick = uniform_picker(std::random_device{}());
  if (!options.sleep) {
    options.sleep = [](Millis d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
  if (!options.now) options.now = [] { return SteadyClock::now(); };
  return EcsActuator(std::move(client), std::move(options));
}

EcsActuator::EcsActuator(ecs::Client client, EcsActuatorOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      service_group_("service:" + short_name(options_.service)) {}

Result<CapacityReading> EcsActuator::read() {
  OPFLEET_TRY(ecs::Service s, client_.describe_service(options_.cluster, options_.service));
  // DescribeServices still answers for a service being deleted (DRAINING) or deleted
  // (INACTIVE) for a while; its counts would only mislead the loop.
  if (!s.status.empty() && s.status != "ACTIVE") {
    Error e = Error::not_found(fmt::format("ECS service {} in cluster {} is {}", options_.service,
                                           options_.cluster, s.status));
    e.code = "ServiceNotActiveException";
    return fail(std::move(e));
  }
  return CapacityReading{s.desired_count, s.running_count, s.pending_count};
}

Status EcsActuator::set_desired(int n, const std::string& reason) {
  if (n < 0) return fail(Error::invalid(fmt::format("desired count {} is negative", n)));
  // UpdateService keeps no reason: the loop records it with the scaling event.
  OPFLEET_TRY(ecs::Service s, client_.update_desired_count(options_.cluster, options_.service, n));
  log::debug("ecs_desired_count_set", {{"cluster", options_.cluster},
                                       {"service", options_.service},
                                       {"desired", s.desired_count},
                                       {"running", s.running_count},
                                       {"reason", reason}});
  return ok();
}

Result<std::vector<ecs::Task>> EcsActuator::service_tasks(const std::string& container_instance) {
  ecs::ListTasksRequest request;
  request.cluster = options_.cluster;
  request.desired_status = ecs::task_status::kRunning;
  // ListTasks filters by service or by instance; the tasks of the service on one
  // instance are told apart by their group.
  if (container_instance.empty()) {
    request.service_name = options_.service;
  } else {
    request.container_instance = container_instance;
  }
  OPFLEET_TRY(std::vector<std::string> arns, client_.list_tasks(std::move(request)));
  if (arns.empty()) return std::vector<ecs::Task>{};
  // A task listed a moment ago may be gone already (failure MISSING): it is not running.
  OPFLEET_TRY(ecs::Batch<ecs::Task> described, client_.describe_tasks(options_.cluster, arns));
  std::vector<ecs::Task> tasks = std::move(described.items);
  if (!container_instance.empty()) {
    std::erase_if(tasks, [&](const ecs::Task& t) { return t.group != service_group_; });
  }
  return tasks;
}

Result<std::string> EcsActuator::kill_random_worker() {
  OPFLEET_TRY(std::vector<ecs::Task> tasks, service_tasks({}));
  const std::size_t listed = tasks.size();
  // desiredStatus RUNNING includes tasks still PROVISIONING or PENDING: stopping one of
  // those would not simulate the crash of a working worker.
  std::erase_if(tasks,
                [](const ecs::Task& t) { return t.last_status != ecs::task_status::kRunning; });
  if (tasks.empty()) {
    return fail(Error::not_found(
        fmt::format("ECS service {} in cluster {} has no RUNNING task ({} starting)",
                    options_.service, options_.cluster, listed)));
  }
  const ecs::Task& victim = tasks.at(options_.pick(tasks.size()));
  OPFLEET_TRY(ecs::Task stopped,
              client_.stop_task(options_.cluster, victim.arn, options_.stop_reason));
  return stopped.arn.empty() ? victim.arn : stopped.arn;
}

void EcsActuator::wait_until(const DrainOptions& options, DrainTicket& ticket,
                             const std::function<Result<bool>()>& settled) {
  const auto start = options_.now();
  for (;;) {
    auto done = settled();
    if (!done) {
      ticket.wait_error = std::move(done).error();
      break;
    }
    if (*done) {
      ticket.settled = true;
      break;
    }
    const auto elapsed = options_.now() - start;
    if (elapsed >= options.settle_timeout) break;
    const Millis left = std::chrono::ceil<Millis>(options.settle_timeout - elapsed);
    log::debug(
        "ecs_drain_waiting",
        {{"target", ticket.target}, {"scope", to_string(ticket.scope)}, {"left_ms", left.count()}});
    if (!options_.sleep(std::min(options_.poll_interval, left))) break;  // shutting down
  }
  ticket.waited = std::chrono::duration_cast<Millis>(options_.now() - start);
}

Result<DrainTicket> EcsActuator::drain_fleet(const DrainOptions& options) {
  OPFLEET_TRY(CapacityReading before, read());
  OPFLEET_TRY_STATUS(set_desired(0, "failure simulation: drain the fleet"));
  DrainTicket ticket;
  ticket.scope = DrainScope::kFleet;
  ticket.target = options_.service;
  ticket.previous_desired = before.desired;
  wait_until(options, ticket, [this]() -> Result<bool> {
    OPFLEET_TRY(ecs::Service s, client_.describe_service(options_.cluster, options_.service));
    return s.running_count == 0 && s.pending_count == 0;
  });
  return ticket;
}

Result<DrainTicket> EcsActuator::drain_host(const DrainOptions& options) {
  ecs::ListContainerInstancesRequest list;
  list.cluster = options_.cluster;
  list.status = "ACTIVE";
  OPFLEET_TRY(std::vector<std::string> active, client_.list_container_instances(std::move(list)));
  if (active.empty()) {
    return fail(Error::not_found(fmt::format(
        "ECS cluster {} has no ACTIVE container instance to drain (a Fargate service has "
        "none: drain the fleet instead)",
        options_.cluster)));
  }
  // Prefer an instance that runs the service's tasks: draining another one would
  // simulate nothing the workers notice.
  OPFLEET_TRY(std::vector<ecs::Task> tasks, service_tasks({}));
  std::set<std::string> hosts;
  for (const ecs::Task& t : tasks) {
    if (!t.container_instance_arn.empty()) hosts.insert(t.container_instance_arn);
  }
  std::vector<std::string> candidates;
  std::copy_if(active.begin(), active.end(), std::back_inserter(candidates),
               [&](const std::string& arn) { return hosts.contains(arn); });
  if (candidates.empty()) candidates = active;
  const std::string instance = candidates.at(options_.pick(candidates.size()));

  OPFLEET_TRY(ecs::Batch<ecs::ContainerInstance> updated,
              client_.update_container_instances_state(options_.cluster, std::span(&instance, 1),
                                                       ecs::InstanceStatus::kDraining));
  if (!updated.failures.empty()) {
    return fail(updated.failures.front().to_error("UpdateContainerInstancesState"));
  }
  DrainTicket ticket;
  ticket.scope = DrainScope::kHost;
  ticket.target = instance;
  wait_until(options, ticket, [this, &instance]() -> Result<bool> {
    OPFLEET_TRY(std::vector<ecs::Task> left, service_tasks(instance));
    return left.empty();
  });
  return ticket;
}

Result<DrainTicket> EcsActuator::drain(const DrainOptions& options) {
  switch (options.scope) {
    case DrainScope::kFleet:
      return drain_fleet(options);
    case DrainScope::kHost:
      return drain_host(options);
  }
  return fail(Error::invalid("unknown drain scope"));
}

Status EcsActuator::restore(const DrainTicket& ticket) {
  switch (ticket.scope) {
    case DrainScope::kFleet:
      if (ticket.target != options_.service) {
        return fail(Error::invalid(fmt::format("drain ticket for service '{}', not '{}'",
                                               ticket.target, options_.service)));
      }
      return set_desired(ticket.previous_desired, "failure simulation: restore after a drain");
    case DrainScope::kHost: {
      if (ticket.target.empty()) return fail(Error::invalid("drain ticket names no instance"));
      OPFLEET_TRY(
          ecs::Batch<ecs::ContainerInstance> updated,
          client_.update_container_instances_state(options_.cluster, std::span(&ticket.target, 1),
                                                   ecs::InstanceStatus::kActive));
      if (!updated.failures.empty()) {
        return fail(updated.failures.front().to_error("UpdateContainerInstancesState"));
      }
      return ok();
    }
  }
  return fail(Error::invalid("unknown drain scope"));
}

}  // namespace opfleet::scaler
