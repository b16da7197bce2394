#include "scaler/control_loop.h"

#include <cctype>

#include <fmt/format.h>

#include "common/log.h"
#include "store/params.h"

namespace opfleet::scaler {

namespace {

const char* policy_name(PolicyKind k) {
  return k == PolicyKind::kTarget ? "target" : "threshold";
}

template <class T>
std::string opt(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : std::string("unknown");
}

void gauge(std::string& out, std::string_view name, std::string_view help, double v) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
}

}  // namespace

Status EventRecorder::record(std::string_view kind, std::string_view action,
                             std::optional<int> from, std::optional<int> to,
                             std::string_view reason, const nlohmann::json& details) {
  if (db_ == nullptr) return ok();
  auto num = [](std::optional<int> v) {
    return v ? store::param::int64(*v) : store::param::null();
  };
  auto rows = db_->exec(
      "INSERT INTO scaling_events (source, kind, action, from_count, to_count, reason, details) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {store::param::text(source_), store::param::text(kind), store::param::text(action), num(from),
       num(to), store::param::text(reason), store::param::json(details)});
  if (!rows) return fail(rows.error());
  return ok();
}

std::string reason_shape(std::string_view reason) {
  std::string out;
  bool in_number = false;
  for (char c : reason) {
    const bool numeric =
        std::isdigit(static_cast<unsigned char>(c)) != 0 || (in_number && (c == '.' || c == 'e'));
    if (numeric) {
      if (!in_number) out += '#';
      in_number = true;
    } else {
      in_number = false;
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const LoopSnapshot& s) {
  std::string out;
  gauge(out, "opfleet_scaler_desired_workers", "Workers the fleet is asked to run", s.desired);
  gauge(out, "opfleet_scaler_current_workers", "Workers running, read back from the actuator",
        s.current);
  if (s.visible)
    gauge(out, "opfleet_scaler_queue_visible", "Messages visible", static_cast<double>(*s.visible));
  if (s.in_flight) {
    gauge(out, "opfleet_scaler_queue_in_flight", "Messages in flight",
          static_cast<double>(*s.in_flight));
  }
  if (s.delayed)
    gauge(out, "opfleet_scaler_queue_delayed", "Messages delayed", static_cast<double>(*s.delayed));
  if (s.oldest_queued_age_s) {
    gauge(out, "opfleet_scaler_oldest_queued_age_seconds", "Age of the oldest queued step",
          *s.oldest_queued_age_s);
  }
  if (s.visible && s.in_flight) {
    const double per = s.backlog_per_worker.value_or(
        static_cast<double>(*s.visible + *s.in_flight) / std::max(1, s.current));
    gauge(out, "opfleet_scaler_backlog_per_worker", "(visible + in flight) / workers", per);
  }
  out +=
      "# HELP opfleet_scaler_decisions_total Decisions by action\n"
      "# TYPE opfleet_scaler_decisions_total counter\n";
  for (const char* a : {"none", "scale_out", "scale_in"}) {
    auto it = s.decisions.find(a);
    out += fmt::format("opfleet_scaler_decisions_total{{action=\"{}\"}} {}\n", a,
                       it == s.decisions.end() ? 0 : it->second);
  }
  out +=
      "# HELP opfleet_scaler_faults_total Failure simulation events by action\n"
      "# TYPE opfleet_scaler_faults_total counter\n";
  for (const auto& [a, n] : s.faults) {
    out += fmt::format("opfleet_scaler_faults_total{{action=\"{}\"}} {}\n", a, n);
  }
  out +=
      "# HELP opfleet_scaler_errors_total Failed reads and actions\n"
      "# TYPE opfleet_scaler_errors_total counter\n";
  out += fmt::format("opfleet_scaler_errors_total{{what=\"metrics\"}} {}\n", s.metrics_errors);
  out += fmt::format("opfleet_scaler_errors_total{{what=\"capacity\"}} {}\n", s.capacity_errors);
  out += fmt::format("opfleet_scaler_errors_total{{what=\"action\"}} {}\n", s.actions_failed);
  gauge(out, "opfleet_scaler_cycles_total", "Polls run", static_cast<double>(s.cycles));
  gauge(out, "opfleet_scaler_drain_active", "A simulated drain is in progress", s.drain_active);
  gauge(out, "opfleet_scaler_partition_active", "A simulated partition is in progress",
        s.partition_active);
  return out;
}

std::string describe(const Policy& p) {
  const auto& l = p.limits;
  std::string out = fmt::format(
      "policy:   {} (min {}, max {}, scale-out cooldown {:g}s, scale-in cooldown {:g}s, "
      "stale after {:g}s)\n",
      policy_name(p.kind), l.min, l.max, l.scale_out_cooldown.count(), l.scale_in_cooldown.count(),
      l.max_metrics_age.count());
  if (p.kind == PolicyKind::kThreshold) {
    out += fmt::format(
        "          scale out when visible > workers x {:g} (by {}), in when "
        "visible < workers x {:g} (by {})\n",
        p.threshold.up_per_worker, p.threshold.step_out, p.threshold.down_per_worker,
        p.threshold.step_in);
  } else {
    out += fmt::format(
        "          hold (visible + in flight) / workers at {:g} (±{:g}%), scale in "
        "by at most {} after {:g}s low\n",
        p.target.target_backlog_per_worker, p.target.tolerance * 100, p.target.max_step_in,
        p.target.scale_in_stable_for.count());
  }
  return out;
}

std::string describe(const Policy& policy, std::string_view actuator, const CycleReport& r) {
  std::string out;
  const auto& m = r.metrics.metrics;
  out += fmt::format(
      "metrics:  visible {}, in flight {}, delayed {}, oldest queued {}\n", opt(m.visible),
      opt(m.in_flight), opt(m.delayed),
      m.oldest_queued_age_s ? fmt::format("{:.1f}s", *m.oldest_queued_age_s) : std::string("none"));
  if (r.metrics.queue_error)
    out += fmt::format("          queue: {}\n", r.metrics.queue_error->describe());
  if (r.metrics.db_error)
    out += fmt::format("          database: {}\n", r.metrics.db_error->describe());
  if (r.capacity) {
    out += fmt::format("capacity: {} desired {}, running {}, pending {}\n", actuator,
                       r.capacity->desired, r.capacity->running, r.capacity->pending);
  } else {
    out += fmt::format("capacity: {} unreadable: {}\n", actuator,
                       r.capacity_error ? r.capacity_error->describe() : std::string("?"));
  }
  out += describe(policy);
  if (r.decision) {
    out += fmt::format("decision: {} {} -> {}\n", to_string(r.decision->action), r.decision->from,
                       r.decision->to);
    out += fmt::format("reason:   {}\n", r.decision->reason);
  } else {
    out += "decision: none (no capacity reading: nothing is decided blind)\n";
  }
  return out;
}

ControlLoop::ControlLoop(const LoopOptions& options, MetricsSource& metrics, Actuator& actuator,
                         EventRecorder& recorder, FaultInjector* faults)
    : options_(options),
      metrics_(metrics),
      actuator_(actuator),
      recorder_(recorder),
      faults_(faults) {
  snap_.actuator = std::string(actuator_.name());
  snap_.policy = policy_name(options_.policy.kind);
}

void ControlLoop::record(std::string_view kind, std::string_view action, std::optional<int> from,
                         std::optional<int> to, std::string_view reason,
                         const nlohmann::json& details) {
  if (auto st = recorder_.record(kind, action, from, to, reason, details); !st) {
    // Not an 'error' row: the table is what failed.
    log::warn("scaling_event_not_recorded",
              {{"kind", kind}, {"action", action}, {"error", st.error().describe()}});
  }
}

void ControlLoop::on_error(std::string_view what, const Error& e, const nlohmann::json& details) {
  const std::string shape = reason_shape(e.describe());
  log::warn("scaler_error", {{"what", what}, {"error", e.describe()}, {"retryable", e.retryable}});
  {
    std::lock_guard lock(mu_);
    snap_.last_error = fmt::format("{}: {}", what, e.describe());
  }
  auto it = last_error_shape_.find(what);
  if (it != last_error_shape_.end() && it->second == shape) return;
  last_error_shape_[std::string(what)] = shape;
  nlohmann::json d = details;
  d["retryable"] = e.retryable;
  record("error", what, std::nullopt, std::nullopt, e.describe(), d);
}

void ControlLoop::on_fault(const FaultEvent& e) {
  nlohmann::json d = e.details;
  d["fault"] = to_string(e.kind);
  if (e.ok) {
    log::info("scaler_fault", {{"fault", to_string(e.kind)},
                               {"action", e.action},
                               {"reason", e.reason},
                               {"details", d.dump()}});
    record("fault", e.action, std::nullopt, std::nullopt, e.reason, d);
  } else {
    log::warn("scaler_fault_failed", {{"fault", to_string(e.kind)},
                                      {"action", e.action},
                                      {"reason", e.reason},
                                      {"details", d.dump()}});
    record("error", e.action, std::nullopt, std::nullopt, e.reason, d);
  }
  std::lock_guard lock(mu_);
  ++snap_.faults[e.action];
}

CycleReport ControlLoop::cycle(SteadyClock::time_point steady_now, Clock::time_point now,
                               bool act) {
  CycleReport r;
  if (act && faults_ != nullptr) {
    for (const auto& e : faults_->tick(steady_now)) on_fault(e);
  }

  r.metrics = metrics_.read();
  if (act) {
    if (r.metrics.queue_error) on_error("metrics", *r.metrics.queue_error, {{"source", "sqs"}});
    if (r.metrics.db_error) on_error("metrics", *r.metrics.db_error, {{"source", "postgres"}});
    if (options_.record_samples && !r.metrics.queue_error) {
      if (auto st = metrics_.record_sample(r.metrics.metrics); !st) {
        on_error("queue_sample", st.error(), nlohmann::json::object());
      }
    }
  }

  auto cap = actuator_.read();
  if (!cap) {
    r.capacity_error = cap.error();
    if (act) on_error("capacity", cap.error(), {{"actuator", actuator_.name()}});
  } else {
    r.capacity = *cap;
  }

  if (r.capacity) {
    Decision d = decide(options_.policy, r.metrics.metrics, r.capacity->capacity(), history_, now);
    // A simulated drain empties the fleet on purpose; resizing it now would undo that.
    if (faults_ != nullptr && faults_->drain_active() && d.action != Action::kNone) {
      r.held_for_drain = true;
      d.action = Action::kNone;
      d.to = d.from;
      d.reason = "held: a drain simulation is in progress (" + d.reason + ")";
      d.history = history_;
    }
    r.decision = d;
  }

  if (!act) return r;

  bool acted = false;
  if (r.decision) {
    Decision& d = *r.decision;
    const bool changed = reason_shape(d.reason) != last_reason_shape_;
    nlohmann::json details = {{"policy", policy_name(options_.policy.kind)},
                              {"actuator", actuator_.name()},
                              {"current", r.capacity->running},
                              {"desired", r.capacity->desired},
                              {"pending", r.capacity->pending}};
    const auto& m = r.metrics.metrics;
    if (m.visible) details["visible"] = *m.visible;
    if (m.in_flight) details["in_flight"] = *m.in_flight;
    if (m.delayed) details["delayed"] = *m.delayed;
    if (m.oldest_queued_age_s) details["oldest_queued_age_s"] = *m.oldest_queued_age_s;
    if (d.backlog_per_worker) details["backlog_per_worker"] = *d.backlog_per_worker;
    if (d.action != Action::kNone || changed) {
      log::info("scaler_decision", {{"action", to_string(d.action)},
                                    {"from", d.from},
                                    {"to", d.to},
                                    {"reason", d.reason},
                                    {"details", details.dump()}});
      record("decision", to_string(d.action), d.from, d.to, d.reason, details);
      last_reason_shape_ = reason_shape(d.reason);
    } else {
      log::debug("scaler_decision", {{"action", "none"}, {"reason", d.reason}});
    }
    if (d.action == Action::kNone) {
      history_ = d.history;  // keeps the target policy's low_since
    } else if (auto st = actuator_.set_desired(d.to, d.reason); st) {
      history_ = d.history;
      acted = true;
      log::info("scaler_action", {{"actuator", actuator_.name()},
                                  {"action", to_string(d.action)},
                                  {"from", d.from},
                                  {"to", d.to}});
      record("action", to_string(d.action), d.from, d.to, d.reason, details);
      last_error_shape_.erase("action");
    } else {
      r.action_error = st.error();
      details["to"] = d.to;
      on_error("action", st.error(), details);
    }
  }

  std::lock_guard lock(mu_);
  ++snap_.cycles;
  snap_.last_cycle = steady_now;
  const auto& m = r.metrics.metrics;
  snap_.visible = m.visible;
  snap_.in_flight = m.in_flight;
  snap_.delayed = m.delayed;
  snap_.oldest_queued_age_s = m.oldest_queued_age_s;
  if (r.metrics.queue_error || r.metrics.db_error) ++snap_.metrics_errors;
  if (r.capacity) {
    snap_.current = r.capacity->running;
    snap_.desired = acted ? r.decision->to : r.capacity->desired;
  } else {
    ++snap_.capacity_errors;
  }
  if (r.decision) {
    ++snap_.decisions[to_string(r.decision->action)];
    snap_.backlog_per_worker = r.decision->backlog_per_worker;
    snap_.last_action = to_string(r.decision->action);
    snap_.last_reason = r.decision->reason;
  }
  if (r.action_error) ++snap_.actions_failed;
  if (!r.metrics.queue_error && r.capacity && !r.action_error) {
    snap_.last_good_cycle = steady_now;
    snap_.last_error.clear();
  }
  snap_.drain_active = faults_ != nullptr && faults_->drain_active();
  snap_.partition_active = faults_ != nullptr && faults_->partition_active();
  return r;
}

void ControlLoop::shutdown() {
  if (faults_ == nullptr) return;
  for (const auto& e : faults_->stop()) on_fault(e);
  std::lock_guard lock(mu_);
  snap_.drain_active = false;
  snap_.partition_active = false;
}

LoopSnapshot ControlLoop::snapshot() const {
  std::lock_guard lock(mu_);
  return snap_;
}

}  // namespace opfleet::scaler
