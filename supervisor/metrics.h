// The supervisor's /metrics page in the Prometheus text exposition format (version
// 0.0.4): gauges for workers by state and ops in flight, counters for ops and restarts,
// and a histogram of crash-recovery latency. Rendering is a pure function of a snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opfleet::supervisor {

// A cumulative histogram with fixed upper bounds (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations <= bounds()[i] (cumulative); the last entry is +Inf (all).
  std::vector<std::uint64_t> cumulative() const;
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), plus +Inf
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Buckets for crash-recovery latency: 1 ms to 10 s.
Histogram recovery_latency_histogram();

struct MetricsSnapshot {
  std::map<std::string, int> workers_by_state;  // "running" -> 3 ...
  int desired_workers = 0;
  bool receiving = true;
  bool healthy = false;
  std::uint64_t ops_in_flight = 0;
  std::uint64_t slots_total = 0;
  std::uint64_t slots_busy = 0;
  std::uint64_t ops_started = 0;
  std::uint64_t ops_succeeded = 0;
  std::uint64_t ops_failed = 0;
  std::uint64_t ops_handed_back = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t worker_restarts = 0;
  std::map<std::string, std::uint64_t> worker_exits;  // by kind: clean, crash, ...
  std::uint64_t claims_recovered = 0;
  std::uint64_t recovery_failures = 0;
  const Histogram* recovery_latency = nullptr;
};

std::string render_metrics(const MetricsSnapshot& m);

// A Prometheus sample value: integers without a fraction, +Inf as "+Inf".
std::string format_sample(double v);

}  // namespace opfleet::supervisor
