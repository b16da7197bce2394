// Failure simulation for the scaler (`opfleet scale --fault-*`): faults injected into a
// real fleet on a schedule, so that the claim protocol's promises (one completion per
// key, no overlap, nothing lost) are exercised by the fleet that is being scaled. Each
// kind is off by default and has its own schedule:
//   kill-worker  the actuator stops one random worker as a crash would (local: SIGKILL of
//                a busy worker process; ecs: StopTask of a running task);
//   drain        the actuator takes the fleet (or one host) out of service, waits until
//                it is empty, holds it so for a duration, then restores it;
//   partition    the `opfleet netfault` proxies that workers reach SQS and/or PostgreSQL
//                through are switched to blackhole (or reject) for a duration, then
//                restored (held connections are reset, so clients reconnect): a real
//                network-level cut, not a pause in the scaler.
// A due fault fires with its probability; the next one is due one interval later,
// stretched or shrunk by up to ±jitter of the interval. A drain or partition in progress
// is never stacked with another of the same kind.
//
// The injector does the I/O and returns what happened as FaultEvents; the control loop
// logs each one and records it as a scaling_events row (kind 'fault', or 'error' when it
// failed). Single-threaded, like the loop that owns it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/retry.h"
#include "scaler/actuator.h"

namespace opfleet::scaler {

enum class FaultKind { kKillWorker, kDrain, kPartition };
const char* to_string(FaultKind kind);

enum class PartitionTarget { kSqs, kPg, kBoth };
const char* to_string(PartitionTarget target);
Result<PartitionTarget> parse_partition_target(std::string_view text);

struct FaultSchedule {
  bool enabled = false;
  Millis interval{60000};  // between due times
  double jitter = 0.2;     // each interval is interval * (1 ± jitter * u), u in [0, 1)
  double probability = 1;  // chance that a due fault actually fires
};

struct FaultOptions {
  FaultSchedule kill;

  FaultSchedule drain;
  DrainScope drain_scope = DrainScope::kFleet;
  Millis drain_duration{30000};         // held drained this long once settled
  Millis drain_settle_timeout{120000};  // longest wait for the drained workers to stop

  FaultSchedule partition;
  PartitionTarget partition_target = PartitionTarget::kBoth;
  Millis partition_duration{10000};
  std::string partition_mode = "blackhole";  // or "reject" (the service gone, not silent)
  std::string sqs_control;                   // control socket of the SQS proxy
  std::string pg_control;                    // control socket of the PostgreSQL proxy

  bool any_enabled() const { return kill.enabled || drain.enabled || partition.enabled; }
  // kInvalid: a bad interval, probability or jitter, or a partition target without its
  // control socket.
  Status validate() const;
};

struct FaultEvent {
  FaultKind kind = FaultKind::kKillWorker;
  // kill_worker, drain, restore, partition, heal, skipped (the dice said no)
  std::string action;
  bool ok = true;
  std::string reason;  // one sentence for the log line and the row
  nlohmann::json details = nlohmann::json::object();
};

// Sends one command line to a netfault control socket; returns the reply after "ok ".
using NetfaultCommand =
    std::function<Result<std::string>(const std::string& path, std::string_view command)>;

class FaultInjector {
 public:
  // `uniform01` draws from [0, 1) (jitter and probability); `netfault` is
  // netfault::send_command unless a test replaces it. The first faults are due one
  // (jittered) interval after `start`.
  FaultInjector(FaultOptions options, Actuator& actuator, std::function<double()> uniform01,
                NetfaultCommand netfault, SteadyClock::time_point start);

  // Fires what is due at `now` and ends drains and partitions whose time is up. A drain
  // blocks here until the drained workers stopped (at most drain_settle_timeout).
  std::vector<FaultEvent> tick(SteadyClock::time_point now);
  // Ends a drain or partition in progress (shutdown): nothing simulated outlives the loop.
  std::vector<FaultEvent> stop();

  // While true, the loop must not resize the fleet (it would undo the drain).
  bool drain_active() const { return drain_ticket_.has_value(); }
  bool partition_active() const { return partition_until_.has_value(); }
  std::optional<SteadyClock::time_point> next_due(FaultKind kind) const;
  const FaultOptions& options() const { return options_; }

 private:
  SteadyClock::time_point schedule_after(const FaultSchedule& s, SteadyClock::time_point t);
  bool dice(const FaultSchedule& s);
  FaultEvent kill();
  FaultEvent start_drain(SteadyClock::time_point now);
  FaultEvent end_drain();
  FaultEvent start_partition(SteadyClock::time_point now);
  FaultEvent end_partition();
  std::vector<std::string> partition_sockets() const;

  FaultOptions options_;
  Actuator& actuator_;
  std::function<double()> uniform01_;
  NetfaultCommand netfault_;
  std::optional<SteadyClock::time_point> kill_due_;
  std::optional<SteadyClock::time_point> drain_due_;
  std::optional<SteadyClock::time_point> partition_due_;
  std::optional<DrainTicket> drain_ticket_;
  SteadyClock::time_point drain_until_{};
  std::optional<SteadyClock::time_point> partition_until_;
};

}  // namespace opfleet::scaler
