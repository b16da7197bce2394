// The scaler's decision: a pure function of (metrics, capacity, past actions, clock) ->
// action, with no I/O, so every rule is tested by tables (tests/scaler/decision_test.cpp).
//
// Two policies:
//  - threshold (the seed's): scale out when visible > workers * up_per_worker, in when
//    visible < workers * down_per_worker, by fixed steps. The gap between the two
//    thresholds is the hysteresis that keeps it from flapping.
//  - target (AWS's advice for queue workers): keep the backlog per worker,
//    (visible + in flight) / workers, at a target = acceptable latency / mean op time.
//    Scaling out jumps straight to the needed count; scaling in goes down in bounded
//    steps, only when the need stayed below current capacity by more than a tolerance band
//    for a while.
// Both: min/max clamping, separate scale-out and scale-in cooldowns, and never a scale-in
// on missing or stale metrics (an outage of the metrics source must not shrink the fleet).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace opfleet::scaler {

using Clock = std::chrono::system_clock;
using Seconds = std::chrono::duration<double>;

struct Metrics {
  std::optional<std::int64_t> visible;        // ApproximateNumberOfMessages
  std::optional<std::int64_t> in_flight;      // ApproximateNumberOfMessagesNotVisible
  std::optional<std::int64_t> delayed;        // ApproximateNumberOfMessagesDelayed
  std::optional<double> oldest_queued_age_s;  // from PostgreSQL
  Clock::time_point observed_at{};            // when the queue metrics were read
};

struct Capacity {
  int current = 0;  // running workers (or tasks), read back from the actuator
  int desired = 0;  // what the actuator is currently asked for
};

enum class PolicyKind { kThreshold, kTarget };

struct Limits {
  int min = 2;
  int max = 20;
  Seconds scale_out_cooldown{60};
  Seconds scale_in_cooldown{60};
  Seconds max_metrics_age{30};  // older metrics are stale: hold, never scale in
};

struct ThresholdPolicy {
  double up_per_worker = 5;    // scale out when visible > workers * this
  double down_per_worker = 2;  // scale in when visible < workers * this
  int step_out = 1;
  int step_in = 1;
};

struct TargetPolicy {
  // Backlog per worker to hold: acceptable latency / mean op time (e.g. 60 s / 20 s = 3),
  // times the ops one worker runs at once.
  double target_backlog_per_worker = 3;
  double tolerance = 0.1;            // no action while within ±10% of the target
  int max_step_in = 2;               // workers removed per scale-in at most
  Seconds scale_in_stable_for{120};  // the need must stay low this long before scaling in
};

// Builds the target from the operator's terms.
double target_backlog(double acceptable_latency_s, double mean_op_s, int slots_per_worker);

struct Policy {
  PolicyKind kind = PolicyKind::kThreshold;
  Limits limits;
  ThresholdPolicy threshold;
  TargetPolicy target;
};

// What the decision remembers between calls (kept by the control loop, persisted nowhere
// else: a restarted scaler starts with empty history, which only makes it more cautious).
struct History {
  std::optional<Clock::time_point> last_scale_out;
  std::optional<Clock::time_point> last_scale_in;
  std::optional<Clock::time_point> low_since;  // target policy: need below capacity since
};

enum class Action { kNone, kScaleOut, kScaleIn };
const char* to_string(Action a);

struct Decision {
  Action action = Action::kNone;
  int from = 0;
  int to = 0;
  std::string reason;  // one sentence for logs and the scaling_events row
  std::optional<double> backlog_per_worker;
  History history;  // to pass to the next call
};

Decision decide(const Policy& policy, const Metrics& metrics, const Capacity& capacity,
                const History& history, Clock::time_point now);

}  // namespace opfleet::scaler
