#include "scaler/decision.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace opfleet::scaler {

const char* to_string(Action a) {
  switch (a) {
    case Action::kNone:
      return "none";
    case Action::kScaleOut:
      return "scale_out";
    case Action::kScaleIn:
      return "scale_in";
  }
  return "none";
}

double target_backlog(double acceptable_latency_s, double mean_op_s, int slots_per_worker) {
  if (!(mean_op_s > 0) || !(acceptable_latency_s > 0)) return 1;
  return std::max(1.0, acceptable_latency_s / mean_op_s * std::max(1, slots_per_worker));
}

namespace {

double since(Clock::time_point now, std::optional<Clock::time_point> t) {
  if (!t) return 1e18;
  return std::chrono::duration<double>(now - *t).count();
}

Decision hold(Decision d, std::string reason) {
  d.action = Action::kNone;
  d.to = d.from;
  d.reason = std::move(reason);
  return d;
}

Decision act(Decision d, Action a, int to, std::string reason, Clock::time_point now) {
  d.action = a;
  d.to = to;
  d.reason = std::move(reason);
  if (a == Action::kScaleOut) d.history.last_scale_out = now;
  if (a == Action::kScaleIn) d.history.last_scale_in = now;
  d.history.low_since.reset();
  return d;
}

// Scale-in waits for its cooldown after ANY action: right after scaling out, the new
// workers have not yet drained the backlog that made us scale out.
bool scale_in_cooling(const Policy& p, const History& h, Clock::time_point now, double* left) {
  double elapsed = std::min(since(now, h.last_scale_in), since(now, h.last_scale_out));
  *left = p.limits.scale_in_cooldown.count() - elapsed;
  return *left > 0;
}

// Scale-out waits for its cooldown after a scale-out, and also after a scale-in: going
// back up right after going down is the flap we guard against (the load that just
// looked low is oscillating). A burst after a scale-in is served at most one scale-out
// cooldown later.
bool scale_out_cooling(const Policy& p, const History& h, Clock::time_point now, double* left) {
  double elapsed = std::min(since(now, h.last_scale_out), since(now, h.last_scale_in));
  *left = p.limits.scale_out_cooldown.count() - elapsed;
  return *left > 0;
}

Decision decide_threshold(const Policy& p, Decision d, std::int64_t visible, int base,
                          Clock::time_point now) {
  const auto& t = p.threshold;
  const double up = base * t.up_per_worker;
  const double down = base * t.down_per_worker;
  double left = 0;
  if (static_cast<double>(visible) > up) {
    int to = std::min(p.limits.max, base + std::max(1, t.step_out));
    if (to <= base)
      return hold(
          d, fmt::format("visible {} > {:g} but already at max {}", visible, up, p.limits.max));
    if (scale_out_cooling(p, d.history, now, &left)) {
      return hold(
          d, fmt::format("visible {} > {:g}, scale-out cooldown {:.0f}s left", visible, up, left));
    }
    return act(d, Action::kScaleOut, to,
               fmt::format("visible {} > {} workers x {:g}", visible, base, t.up_per_worker), now);
  }
  if (static_cast<double>(visible) < down) {
    int to = std::max(p.limits.min, base - std::max(1, t.step_in));
    if (to >= base)
      return hold(
          d, fmt::format("visible {} < {:g} but already at min {}", visible, down, p.limits.min));
    if (scale_in_cooling(p, d.history, now, &left)) {
      return hold(
          d, fmt::format("visible {} < {:g}, scale-in cooldown {:.0f}s left", visible, down, left));
    }
    return act(d, Action::kScaleIn, to,
               fmt::format("visible {} < {} workers x {:g}", visible, base, t.down_per_worker),
               now);
  }
  return hold(d, fmt::format("visible {} within [{:g}, {:g}]", visible, down, up));
}

Decision decide_target(const Policy& p, Decision d, std::int64_t visible, std::int64_t in_flight,
                       int base, Clock::time_point now) {
  const auto& t = p.target;
  const double target = std::max(1e-9, t.target_backlog_per_worker);
  const double backlog = static_cast<double>(visible + in_flight);
  const double per_worker = backlog / std::max(1, base);
  d.backlog_per_worker = per_worker;
  int need = static_cast<int>(std::ceil(backlog / target));
  need = std::clamp(need, p.limits.min, p.limits.max);
  double left = 0;
  if (need > base && per_worker > target * (1 + t.tolerance)) {
    d.history.low_since.reset();
    if (scale_out_cooling(p, d.history, now, &left)) {
      return hold(
          d, fmt::format("backlog/worker {:.2f} > target {:g}, scale-out cooldown {:.0f}s left",
                         per_worker, target, left));
    }
    return act(d, Action::kScaleOut, need,
               fmt::format("backlog {} over {} workers = {:.2f}/worker > target {:g}: need {}",
                           backlog, base, per_worker, target, need),
               now);
  }
  if (need < base && per_worker < target * (1 - t.tolerance)) {
    if (!d.history.low_since) d.history.low_since = now;
    double low_for = since(now, d.history.low_since);
    if (low_for < t.scale_in_stable_for.count()) {
      return hold(d, fmt::format("backlog/worker {:.2f} < target {:g} for {:.0f}s of {:.0f}s",
                                 per_worker, target, low_for, t.scale_in_stable_for.count()));
    }
    if (scale_in_cooling(p, d.history, now, &left)) {
      return hold(d,
                  fmt::format("backlog/worker {:.2f} < target {:g}, scale-in cooldown {:.0f}s left",
                              per_worker, target, left));
    }
    int to = std::max(need, base - std::max(1, t.max_step_in));
    return act(d, Action::kScaleIn, to,
               fmt::format("backlog {} over {} workers = {:.2f}/worker < target {:g}: need {}",
                           backlog, base, per_worker, target, need),
               now);
  }
  d.history.low_since.reset();
  return hold(d, fmt::format("backlog/worker {:.2f} near target {:g}", per_worker, target));
}

}  // namespace

Decision decide(const Policy& policy, const Metrics& metrics, const Capacity& capacity,
                const History& history, Clock::time_point now) {
  Decision d;
  d.history = history;
  // What we have asked for is the base: counting only running workers would ask again for
  // the ones still starting.
  const int base = capacity.desired > 0 ? capacity.desired : capacity.current;
  d.from = base;
  d.to = base;
  const auto& lim = policy.limits;
  // Clamping needs no metrics and no cooldown: the limits are configuration.
  if (base < lim.min) {
    return act(d, Action::kScaleOut, lim.min, fmt::format("{} below min {}", base, lim.min), now);
  }
  if (base > lim.max) {
    return act(d, Action::kScaleIn, lim.max, fmt::format("{} above max {}", base, lim.max), now);
  }
  if (!metrics.visible) return hold(d, "queue metrics missing: holding");
  const double age = std::chrono::duration<double>(now - metrics.observed_at).count();
  if (age > lim.max_metrics_age.count()) {
    return hold(d, fmt::format("queue metrics {:.0f}s old (stale after {:.0f}s): holding", age,
                               lim.max_metrics_age.count()));
  }
  if (policy.kind == PolicyKind::kThreshold) {
    return decide_threshold(policy, d, *metrics.visible, base, now);
  }
  if (!metrics.in_flight) return hold(d, "in-flight count missing: holding");
  return decide_target(policy, d, *metrics.visible, *metrics.in_flight, base, now);
}

}  // namespace opfleet::scaler
