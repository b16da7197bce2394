// The scaler's actuator for an ECS service (see scaler/actuator.h for the contract):
//   read()                DescribeServices: desiredCount, runningCount, pendingCount
//   set_desired(n)        UpdateService desiredCount = n
//   kill_random_worker()  ListTasks (service, desired RUNNING, every page) + DescribeTasks,
//                         then StopTask of a random task whose lastStatus is RUNNING,
//                         reason "opfleet failure simulation"
//   drain(kFleet)         DescribeServices (remember desiredCount), UpdateService 0, then
//                         DescribeServices every poll_interval until runningCount and
//                         pendingCount are 0 or settle_timeout passed
//   drain(kHost)          ListContainerInstances (ACTIVE) and the instances hosting the
//                         service's running tasks; UpdateContainerInstancesState DRAINING
//                         on a random one of those; then ListTasks (that instance) +
//                         DescribeTasks every poll_interval until none of the service's
//                         tasks is left on it or settle_timeout passed
//   restore()             UpdateService back to the remembered count, or the instance
//                         back to ACTIVE
// docs/ecs.md lists the IAM permissions these calls need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/retry.h"
#include "ecs/client.h"
#include "scaler/actuator.h"

namespace opfleet::scaler {

struct EcsActuatorOptions {
  std::string cluster;  // short name or ARN
  std::string service;  // short name or ARN
  // How often drain() polls while it waits.
  Millis poll_interval{5000};
  // The StopTask reason (DescribeTasks shows it as stoppedReason).
  std::string stop_reason = "opfleet failure simulation";
  // Picks an index in [0, n) (n > 0): uniformly at random unless a test fixes it.
  std::function<std::size_t(std::size_t n)> pick;
  // Waits between polls; false means "stop waiting" (shutdown). Empty: sleep_for.
  std::function<bool(Millis)> sleep;
  // The clock the settle deadline is measured on. Empty: steady_clock.
  std::function<SteadyClock::time_point()> now;
};

// Picks uniformly in [0, n) (n > 0) from a generator seeded with `seed`: the default
// EcsActuatorOptions::pick, seeded from std::random_device.
std::function<std::size_t(std::size_t n)> uniform_picker(std::uint64_t seed);

class EcsActuator final : public Actuator {
 public:
  // kInvalid when the cluster or service is empty.
  static Result<EcsActuator> make(ecs::Client client, EcsActuatorOptions options);

  std::string_view name() const override { return "ecs"; }
  Result<CapacityReading> read() override;
  Status set_desired(int n, const std::string& reason) override;
  Result<std::string> kill_random_worker() override;
  Result<DrainTicket> drain(const DrainOptions& options) override;
  Status restore(const DrainTicket& ticket) override;

  const ecs::Client& client() const { return client_; }

 private:
  EcsActuator(ecs::Client client, EcsActuatorOptions options);

  Result<DrainTicket> drain_fleet(const DrainOptions& options);
  Result<DrainTicket> drain_host(const DrainOptions& options);
  // The service's tasks that ECS keeps running (desiredStatus RUNNING), described;
  // `container_instance` narrows the list to one instance.
  Result<std::vector<ecs::Task>> service_tasks(const std::string& container_instance);
  // Polls `settled` until it says true, fails, or the deadline passes; fills the ticket.
  void wait_until(const DrainOptions& options, DrainTicket& ticket,
                  const std::function<Result<bool>()>& settled);

  ecs::Client client_;
  EcsActuatorOptions options_;
  std::string service_group_;  // "service:<name>", the group of the service's tasks
};

}  // namespace opfleet::scaler
