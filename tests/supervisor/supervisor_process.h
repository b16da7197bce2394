// `opfleet supervise` under test: a real supervisor process (and its real workers) on a
// Fleet's database and queues (tests/support/fleet_fixture.h), logging JSON to a file,
// plus views of its shared memory (the same view `opfleet status` has).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shm/segment.h"
#include "supervisor/instance_status.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/stack_env.h"

namespace opfleet::testing {

struct SupervisorSpec {
  std::string instance{};  // empty: a unique name
  int workers = 2;
  int slots = 2;
  int lease_ms = 30000;  // long: recovery must not come from lease expiry
  int drain_timeout_s = 10;
  int hung_timeout_s = 30;
  int kill_grace_s = 1;
  int receive_wait_s = 1;
  std::string http_listen{};
  std::string config_file{};   // empty: an empty file
  std::string queue_name{};    // empty: the fleet's
  std::string database_url{};  // empty: the fleet's (set: e.g. through a netfault proxy)
  std::string sqs_endpoint{};  // empty: the fleet's
  std::vector<std::string> extra_args{};
  std::vector<std::string> extra_env{};  // NAME=value added to the environment
  bool wait_ready = true;                // return once supervisor_ready was logged
};

class SupervisorProcess {
 public:
  SupervisorProcess(Fleet& fleet, SupervisorSpec spec);
  // Drains the supervisor if it still runs (SIGKILL if it does not exit), and removes a
  // segment a killed supervisor left behind.
  ~SupervisorProcess();
  SupervisorProcess(const SupervisorProcess&) = delete;
  SupervisorProcess& operator=(const SupervisorProcess&) = delete;

  const std::string& instance() const { return instance_; }
  ChildProcess& process() { return log_->process(); }
  pid_t pid() const { return log_->pid(); }

  // Supervisor events ("component":"supervise") and worker events ("worker").
  std::vector<nlohmann::json> events(std::string_view event) const;
  std::optional<nlohmann::json> wait_for_event(
      std::string_view event, milliseconds timeout,
      const std::function<bool(const nlohmann::json&)>& match = {}) const;

  // Shared memory as `opfleet status` reads it (throws when the segment is gone).
  supervisor::InstanceStatus status() const;
  // Pids of the workers in state running.
  std::vector<pid_t> running_pids() const;
  // Waits until exactly `n` workers run and every one is attached.
  bool wait_running(int n, milliseconds timeout = seconds(20)) const;

  // `opfleet <args...>` run to completion: exit status and output.
  struct CliResult {
    int exit_code = -1;
    std::string output;
  };
  CliResult cli(std::vector<std::string> args, milliseconds timeout = seconds(30)) const;

 private:
  Fleet& fleet_;
  std::string instance_;
  std::unique_ptr<WorkerProcess> log_;  // the supervisor's process and its log reader
};

// A job of one `sleep` op of `duration_s` seconds (no jitter): an op that is in flight long enough
// to act on it.
jobs::JobDef sleep_job(double duration_s, int max_attempts = 3);

// Microseconds since the epoch now (the database clock's scale, see Fleet).
Micros now_micros();

// GET http://127.0.0.1:port/path: status and body (status 0 when unreachable).
std::pair<long, std::string> http_get(std::uint16_t port, const std::string& path);

}  // namespace opfleet::testing
