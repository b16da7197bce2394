// The scaler's actuator for the supervisors on this host (see scaler/actuator.h for the
// contract), found by instance name through their shared-memory segments
// (supervisor/control.h):
//   read()                the segments: sum of Header.desired_workers, workers running and
//                         starting
//   set_desired(n)        n spread over the instances (the first n % k get one more), one
//                         request_scale per instance whose count changes; the supervisor
//                         retires idle workers first (ChildTable::pick_scale_in_victim),
//                         and a retired busy worker drains, so scale-in cuts no op short
//   kill_random_worker()  SIGKILL of a random worker that has an op in flight (any running
//                         worker when none is busy), through a pidfd so that a pid
//                         recycled between the read and the kill is never signalled
//   drain(kFleet|kHost)   SIGUSR1 to every supervisor or one at random (workers stop
//                         receiving, finish what they run, stay up), then waits until the
//                         drained instances have no busy slot and no claim
//   restore()             SIGUSR2 to the same supervisors
// A missing supervisor fails read() and set_desired() (kUnavailable, retryable): the loop
// must not size a fleet it cannot see whole.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/retry.h"
#include "scaler/actuator.h"

namespace opfleet::scaler {

struct LocalActuatorOptions {
  std::vector<std::string> instances;  // `opfleet supervise --instance` names
  // How long one request_scale waits for the supervisor to publish the new count.
  Millis scale_timeout{5000};
  // How often drain() looks at the segments while it waits.
  Millis poll_interval{100};
  // Picks an index in [0, n) (n > 0); empty: uniformly at random.
  std::function<std::size_t(std::size_t n)> pick;
  // Waits between polls; false means "stop waiting" (shutdown). Empty: sleep_for.
  std::function<bool(Millis)> sleep;
};

// One busy-or-not worker as the segments show it (for kill_random_worker and tests).
struct LocalWorker {
  std::string instance;
  int pid = 0;
  unsigned slots_busy = 0;
};

class LocalActuator final : public Actuator {
 public:
  // kInvalid when no instance is given or a name repeats.
  static Result<LocalActuator> make(LocalActuatorOptions options);

  std::string_view name() const override { return "local"; }
  Result<CapacityReading> read() override;
  Status set_desired(int n, const std::string& reason) override;
  Result<std::string> kill_random_worker() override;
  Result<DrainTicket> drain(const DrainOptions& options) override;
  Status restore(const DrainTicket& ticket) override;

  // The running workers of every reachable instance.
  Result<std::vector<LocalWorker>> workers() const;
  // Ops in flight (busy slots and claims) on `instance`, or on all when empty.
  Result<std::uint64_t> in_flight(const std::string& instance) const;

 private:
  explicit LocalActuator(LocalActuatorOptions options) : options_(std::move(options)) {}
  // The instances a ticket's target names.
  std::vector<std::string> targets(const std::string& target) const;
  Status signal_all(const std::vector<std::string>& instances, int sig) const;

  LocalActuatorOptions options_;
};

// How `n` workers are spread over `k` instances: the first n % k get n / k + 1.
std::vector<int> spread(int n, std::size_t k);

}  // namespace opfleet::scaler
