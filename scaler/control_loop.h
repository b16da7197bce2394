// The scaler's control loop (`opfleet scale --run`): every poll interval it reads the
// queue metrics and the fleet's capacity, lets the pure decision (scaler/decision.h)
// choose, acts through the actuator, and records what happened. Failure simulation
// (scaler/fault_injector.h) runs on the same thread, between polls' decisions.
//
// Records: one structured log line per decision, action, fault and error, and the same
// as a scaling_events row (kind decision/action/fault/error). To keep the table small, a
// decision row is written only when the decision acts or its reason changed in kind
// (reason_shape(): the reason with its numbers blanked, so "visible 3 within [2, 10]"
// and "visible 4 within [2, 10]" are the same reason). Errors likewise: a row when the
// failure is new, a log line every time.
//
// Cooldowns start only when an action succeeded, so a failed UpdateService or scale
// request is retried at the next poll rather than waiting out a cooldown it never earned.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/retry.h"
#include "scaler/actuator.h"
#include "scaler/decision.h"
#include "scaler/fault_injector.h"
#include "scaler/metrics_source.h"
#include "store/connection.h"

namespace opfleet::scaler {

// Writes scaling_events rows. A null connection writes nothing (dry runs, tests).
class EventRecorder {
 public:
  EventRecorder(store::Connection* db, std::string source) : db_(db), source_(std::move(source)) {}
  Status record(std::string_view kind, std::string_view action, std::optional<int> from,
                std::optional<int> to, std::string_view reason, const nlohmann::json& details);

 private:
  store::Connection* db_;
  std::string source_;
};

// The reason with every run of digits (and decimal point) replaced by '#'.
std::string reason_shape(std::string_view reason);

struct LoopOptions {
  Policy policy;
  Millis poll_interval{5000};
  bool record_samples = true;  // a queue_samples row per poll
};

// What /metrics and /healthz show; a copy taken under the loop's lock.
struct LoopSnapshot {
  std::string actuator;
  std::string policy;
  std::uint64_t cycles = 0;
  std::optional<SteadyClock::time_point> last_cycle;       // any poll that ran
  std::optional<SteadyClock::time_point> last_good_cycle;  // metrics and capacity read
  std::optional<std::int64_t> visible;
  std::optional<std::int64_t> in_flight;
  std::optional<std::int64_t> delayed;
  std::optional<double> oldest_queued_age_s;
  int desired = 0;
  int current = 0;
  std::optional<double> backlog_per_worker;
  std::string last_action = "none";
  std::string last_reason;
  std::string last_error;
  std::map<std::string, std::uint64_t> decisions;  // by action: none, scale_out, scale_in
  std::uint64_t actions_failed = 0;
  std::uint64_t metrics_errors = 0;
  std::uint64_t capacity_errors = 0;
  std::map<std::string, std::uint64_t> faults;  // by fault action
  bool drain_active = false;
  bool partition_active = false;
};

// Prometheus text exposition of a snapshot.
std::string render_metrics(const LoopSnapshot& s);

// One poll's outcome (also what --dry-run prints).
struct CycleReport {
  MetricsReading metrics;
  std::optional<CapacityReading> capacity;
  std::optional<Error> capacity_error;
  std::optional<Decision> decision;
  bool held_for_drain = false;
  std::optional<Error> action_error;
};

// The --dry-run text: metrics, capacity, policy, decision and reason.
std::string describe(const Policy& policy, std::string_view actuator, const CycleReport& r);
std::string describe(const Policy& policy);

class ControlLoop {
 public:
  // `faults` may be null. References must outlive the loop.
  ControlLoop(const LoopOptions& options, MetricsSource& metrics, Actuator& actuator,
              EventRecorder& recorder, FaultInjector* faults);

  // One poll: faults due, metrics, capacity, decision, action, records. `act` false is
  // the dry run: nothing is changed, injected or recorded.
  CycleReport cycle(SteadyClock::time_point steady_now, Clock::time_point now, bool act = true);
  // Ends simulated drains and partitions (records them); call once before exiting.
  void shutdown();

  LoopSnapshot snapshot() const;
  const LoopOptions& options() const { return options_; }

 private:
  void on_fault(const FaultEvent& e);
  // Logs every time; writes an 'error' row when `what` failed differently than last time.
  void on_error(std::string_view what, const Error& e, const nlohmann::json& details);
  void record(std::string_view kind, std::string_view action, std::optional<int> from,
              std::optional<int> to, std::string_view reason, const nlohmann::json& details);

  LoopOptions options_;
  MetricsSource& metrics_;
  Actuator& actuator_;
  EventRecorder& recorder_;
  FaultInjector* faults_;
  History history_;
  std::string last_reason_shape_;
  std::map<std::string, std::string, std::less<>> last_error_shape_;  // by what failed
  mutable std::mutex mu_;  // guards snap_ (read by the HTTP thread)
  LoopSnapshot snap_;
};

}  // namespace opfleet::scaler
