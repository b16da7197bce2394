#include "supervisor/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace opfleet::supervisor {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound >= value
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(counts_.size());
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    out[i] = running;
  }
  return out;
}

Histogram recovery_latency_histogram() {
  return Histogram({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
}

std::string format_sample(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, std::string_view name, double v) {
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, format_sample(v));
}

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t v) {
  header(out, name, "counter", help);
  sample(out, name, static_cast<double>(v));
}

void gauge(std::string& out, std::string_view name, std::string_view help, double v) {
  header(out, name, "gauge", help);
  sample(out, name, v);
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& m) {
  std::string out;
  header(out, "opfleet_workers", "gauge", "Worker processes by state.");
  // Every state is always present (0 when none), so dashboards need no absent() tricks.
  std::map<std::string, int> states = {
      {"starting", 0}, {"running", 0}, {"stopping", 0}, {"waiting_restart", 0}, {"held_back", 0}};
  for (const auto& [state, n] : m.workers_by_state) states[state] = n;
  for (const auto& [state, n] : states) {
    fmt::format_to(std::back_inserter(out), "opfleet_workers{{state=\"{}\"}} {}\n", state, n);
  }
  gauge(out, "opfleet_workers_desired", "Worker processes wanted.", m.desired_workers);
  gauge(out, "opfleet_receiving", "1 while workers take new messages, 0 while paused or draining.",
        m.receiving ? 1 : 0);
  gauge(out, "opfleet_healthy", "1 while the supervisor loop runs and every wanted worker is up.",
        m.healthy ? 1 : 0);
  gauge(out, "opfleet_ops_in_flight", "Ops claimed by the workers of this supervisor.",
        static_cast<double>(m.ops_in_flight));
  gauge(out, "opfleet_slots", "Op slots of the running workers.",
        static_cast<double>(m.slots_total));
  gauge(out, "opfleet_slots_busy", "Op slots running an op.", static_cast<double>(m.slots_busy));
  counter(out, "opfleet_ops_started_total", "Op executions started.", m.ops_started);
  counter(out, "opfleet_ops_succeeded_total", "Op executions that succeeded.", m.ops_succeeded);
  counter(out, "opfleet_ops_failed_total", "Op executions that failed.", m.ops_failed);
  counter(out, "opfleet_ops_handed_back_total",
          "Op executions handed back unfinished (drain, shutdown).", m.ops_handed_back);
  counter(out, "opfleet_duplicates_dropped_total",
          "Deliveries dropped because another worker on this host held the key.",
          m.duplicates_dropped);
  counter(out, "opfleet_worker_restarts_total", "Worker processes started again in a slot.",
          m.worker_restarts);
  header(out, "opfleet_worker_exits_total", "counter", "Worker process exits by kind.");
  std::map<std::string, std::uint64_t> exits = {
      {"clean", 0}, {"stopped", 0}, {"crash", 0}, {"fatal_config", 0}};
  for (const auto& [kind, n] : m.worker_exits) exits[kind] = n;
  for (const auto& [kind, n] : exits) {
    fmt::format_to(std::back_inserter(out), "opfleet_worker_exits_total{{kind=\"{}\"}} {}\n", kind,
                   n);
  }
  counter(out, "opfleet_claims_recovered_total", "Claims of dead workers handed back.",
          m.claims_recovered);
  counter(out, "opfleet_recovery_failures_total",
          "PostgreSQL or SQS calls of crash recovery that failed (lease expiry covers them).",
          m.recovery_failures);
  if (m.recovery_latency != nullptr) {
    const Histogram& h = *m.recovery_latency;
    const char* name = "opfleet_recovery_latency_seconds";
    header(out, name, "histogram", "From a worker's death to all its claims handed back.");
    auto cum = h.cumulative();
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
      fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                     format_sample(h.bounds()[i]), cum[i]);
    }
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", name, cum.back());
    fmt::format_to(std::back_inserter(out), "{}_sum {}\n", name, format_sample(h.sum()));
    fmt::format_to(std::back_inserter(out), "{}_count {}\n", name, h.count());
  }
  return out;
}

}  // namespace opfleet::supervisor
