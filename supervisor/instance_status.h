// A snapshot of one supervisor instance read from its shared memory alone (no call to
// the supervisor): what `opfleet status` prints and what the supervisor's own /metrics
// and STATUS= line count.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shm/layout.h"

namespace opfleet::supervisor {

struct ClaimView {
  std::string key;
  std::int64_t fencing_token = 0;  // 0: not (yet) claimed in PostgreSQL
  double age_s = 0;
};

struct WorkerView {
  std::uint32_t index = 0;
  pid_t pid = 0;
  std::string state;  // starting, running, draining, exited
  std::uint64_t generation = 0;
  double heartbeat_age_s = 0;
  double uptime_s = 0;
  std::uint32_t slots_total = 0;
  std::uint32_t slots_busy = 0;
  std::uint64_t ops_started = 0;
  std::uint64_t ops_succeeded = 0;
  std::uint64_t ops_failed = 0;
  std::uint64_t ops_handed_back = 0;
  std::uint64_t duplicates_dropped = 0;
  std::vector<ClaimView> claims;
};

struct InstanceStatus {
  std::string instance;
  pid_t supervisor_pid = 0;
  bool receiving = true;
  std::uint32_t desired_workers = 0;
  std::uint64_t claims_recovered = 0;
  std::uint64_t worker_restarts = 0;
  std::vector<WorkerView> workers;  // slots in use, by index

  std::uint64_t ops_in_flight() const;
  int workers_in(std::string_view state) const;
};

const char* to_string(shm::WorkerState s);

// Reads every slot that is not free; ages are relative to `now_ns` (CLOCK_MONOTONIC).
InstanceStatus read_status(const shm::Segment& segment, std::string instance, std::uint64_t now_ns);

// Claimed claim slots of one worker, without copying keys (cheap: for every tick).
std::uint32_t count_claims(const shm::WorkerSlot& worker);

nlohmann::json to_json(const InstanceStatus& s);
std::string to_text(const InstanceStatus& s);

}  // namespace opfleet::supervisor
