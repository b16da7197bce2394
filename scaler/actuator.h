// What the scaler's control loop drives: a fleet of workers whose size it reads and sets,
// and on which it simulates failures. Two implementations:
//   - ecs   (scaler/ecs_actuator.h): an ECS service; a worker is a task, a host is a
//           container instance;
//   - local (the supervisors on this host, through their shared memory and control
//           signals, supervisor/control.h): a worker is a worker process, a host is one
//           supervisor instance.
//
// The loop calls one actuator from one thread; implementations need not be thread-safe.
// Every method does its I/O synchronously and returns errors as values without logging
// them: the loop decides whether a failure is worth a retry, a log line or a
// scaling_events row. Nothing here retries beyond what the underlying client does.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "scaler/decision.h"

namespace opfleet::scaler {

// The fleet as the actuator sees it now.
struct CapacityReading {
  int desired = 0;  // what the fleet is asked to run (ECS desiredCount; local: the sum of
                    // the supervisors' desired worker counts)
  int running = 0;  // workers running now (ECS runningCount)
  int pending = 0;  // started but not running yet (ECS pendingCount; local: starting)

  // The decision's view: current = running, desired = desired.
  Capacity capacity() const { return Capacity{running, desired}; }
};

// Which part of the fleet a drain simulation takes out.
enum class DrainScope {
  // Every worker. ecs: desired count 0, restored to the previous count afterwards.
  // local: every supervisor drains (stops its workers, stays up), then resumes.
  kFleet,
  // One host. ecs: one container instance (EC2 launch type) set to DRAINING, so ECS
  // moves its tasks elsewhere, then back to ACTIVE. local: one supervisor drains.
  kHost,
};
inline const char* to_string(DrainScope scope) {
  return scope == DrainScope::kHost ? "host" : "fleet";
}

struct DrainOptions {
  DrainScope scope = DrainScope::kFleet;
  // drain() waits until the drained workers have stopped (ecs kFleet: runningCount and
  // pendingCount 0; kHost: no task of the service left on the instance), but no longer
  // than this.
  std::chrono::milliseconds settle_timeout{std::chrono::minutes(5)};
};

// What drain() changed, so that restore() undoes exactly that.
struct DrainTicket {
  DrainScope scope = DrainScope::kFleet;
  std::string target{};      // ecs: the service, or the container instance ARN; local: the
                             // supervisor instance name ("" = all of them)
  int previous_desired = 0;  // kFleet on ecs: the desired count restore() puts back
  bool settled = false;      // the drained workers had stopped within settle_timeout
  std::chrono::milliseconds waited{0};  // how long drain() waited for that
  // Why drain() stopped waiting early (a failed status read); the drain itself happened
  // and still needs restore().
  std::optional<Error> wait_error{};
};

class Actuator {
 public:
  virtual ~Actuator() = default;

  // "ecs" or "local" (logs, scaling_events rows).
  virtual std::string_view name() const = 0;

  virtual Result<CapacityReading> read() = 0;

  // Asks for `n` workers (n >= 0). `reason` is the decision's one-sentence reason; an
  // actuator passes it on where its backend keeps one.
  virtual Status set_desired(int n, const std::string& reason) = 0;

  // ---- Failure simulation -------------------------------------------------------------
  // Stops one worker chosen at random among the running ones, as a crash would (ecs:
  // StopTask of a random RUNNING task of the service; local: SIGKILL of a random worker
  // process). Returns what was stopped (ecs: the task ARN; local: "<instance>/<pid>").
  // kNotFound when no worker is running.
  virtual Result<std::string> kill_random_worker() = 0;

  // Takes part of the fleet out of service (see DrainScope) and waits for it to empty,
  // within options.settle_timeout. Fails only when nothing was changed; once it returns a
  // ticket, the caller owes a restore(ticket), even when the ticket is not settled.
  virtual Result<DrainTicket> drain(const DrainOptions& options) = 0;

  // Puts back what drain() took out. Does not wait for the workers to come back: the
  // loop sees them return through read().
  virtual Status restore(const DrainTicket& ticket) = 0;
};

}  // namespace opfleet::scaler
