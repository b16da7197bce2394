#include "scaler/fault_injector.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace opfleet::scaler {

namespace {

long long ms(Millis d) {
  return static_cast<long long>(d.count());
}

Status check_schedule(const char* name, const FaultSchedule& s) {
  if (!s.enabled) return ok();
  if (s.interval <= Millis::zero()) {
    return fail(Error::invalid(fmt::format("{} fault: the interval must be positive", name)));
  }
  if (!(s.jitter >= 0 && s.jitter < 1)) {
    return fail(Error::invalid(fmt::format("{} fault: jitter must be in [0, 1)", name)));
  }
  if (!(s.probability > 0 && s.probability <= 1)) {
    return fail(Error::invalid(fmt::format("{} fault: probability must be in (0, 1]", name)));
  }
  return ok();
}

}  // namespace

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKillWorker:
      return "kill_worker";
    case FaultKind::kDrain:
      return "drain";
    case FaultKind::kPartition:
      return "partition";
  }
  return "kill_worker";
}

const char* to_string(PartitionTarget target) {
  switch (target) {
    case PartitionTarget::kSqs:
      return "sqs";
    case PartitionTarget::kPg:
      return "pg";
    case PartitionTarget::kBoth:
      return "both";
  }
  return "both";
}

Result<PartitionTarget> parse_partition_target(std::string_view text) {
  if (text == "sqs") return PartitionTarget::kSqs;
  if (text == "pg") return PartitionTarget::kPg;
  if (text == "both") return PartitionTarget::kBoth;
  return fail(Error::invalid(fmt::format("partition target '{}' is not sqs, pg or both", text)));
}

Status FaultOptions::validate() const {
  OPFLEET_TRY_STATUS(check_schedule("kill-worker", kill));
  OPFLEET_TRY_STATUS(check_schedule("drain", drain));
  OPFLEET_TRY_STATUS(check_schedule("partition", partition));
  if (drain.enabled && drain_duration < Millis::zero()) {
    return fail(Error::invalid("drain fault: the duration must not be negative"));
  }
  if (partition.enabled) {
    if (partition_duration <= Millis::zero()) {
      return fail(Error::invalid("partition fault: the duration must be positive"));
    }
    if (partition_mode != "blackhole" && partition_mode != "reject") {
      return fail(Error::invalid("partition fault: the mode must be blackhole or reject"));
    }
    const bool sqs = partition_target != PartitionTarget::kPg;
    const bool pg = partition_target != PartitionTarget::kSqs;
    // Without the proxy's socket there is nothing to cut: refuse rather than pretend.
    if (sqs && sqs_control.empty()) {
      return fail(Error::invalid(
          "partition fault on sqs needs --partition-sqs-control (the SQS proxy's socket)"));
    }
    if (pg && pg_control.empty()) {
      return fail(Error::invalid(
          "partition fault on pg needs --partition-pg-control (the PostgreSQL proxy's socket)"));
    }
  }
  return ok();
}

FaultInjector::FaultInjector(FaultOptions options, Actuator& actuator,
                             std::function<double()> uniform01, NetfaultCommand netfault,
                             SteadyClock::time_point start)
    : options_(std::move(options)),
      actuator_(actuator),
      uniform01_(std::move(uniform01)),
      netfault_(std::move(netfault)) {
  if (options_.kill.enabled) kill_due_ = schedule_after(options_.kill, start);
  if (options_.drain.enabled) drain_due_ = schedule_after(options_.drain, start);
  if (options_.partition.enabled) partition_due_ = schedule_after(options_.partition, start);
}

SteadyClock::time_point FaultInjector::schedule_after(const FaultSchedule& s,
                                                      SteadyClock::time_point t) {
  // interval * (1 + jitter * (2u - 1)): spread evenly around the interval, so faults of
  // several scalers (or kinds) do not line up.
  const double factor = 1 + s.jitter * (2 * uniform01_() - 1);
  const auto d = std::chrono::duration_cast<Millis>(
      std::chrono::duration<double, std::milli>(static_cast<double>(s.interval.count()) * factor));
  return t + std::max(Millis(1), d);
}

bool FaultInjector::dice(const FaultSchedule& s) {
  return s.probability >= 1 || uniform01_() < s.probability;
}

std::optional<SteadyClock::time_point> FaultInjector::next_due(FaultKind kind) const {
  switch (kind) {
    case FaultKind::kKillWorker:
      return kill_due_;
    case FaultKind::kDrain:
      return drain_due_;
    case FaultKind::kPartition:
      return partition_due_;
  }
  return std::nullopt;
}

std::vector<FaultEvent> FaultInjector::tick(SteadyClock::time_point now) {
  std::vector<FaultEvent> out;
  // Ends first: a drain or partition whose time is up is over before the next one starts.
  if (drain_ticket_ && now >= drain_until_) {
    out.push_back(end_drain());
    drain_due_ = schedule_after(options_.drain, now);
  }
  if (partition_until_ && now >= *partition_until_) {
    out.push_back(end_partition());
    partition_due_ = schedule_after(options_.partition, now);
  }
  auto skipped = [](FaultKind k, const FaultSchedule& s) {
    FaultEvent e{k, "skipped", true,
                 fmt::format("{} due, not fired (probability {:g})", to_string(k), s.probability),
                 nlohmann::json::object()};
    return e;
  };
  if (kill_due_ && now >= *kill_due_) {
    out.push_back(dice(options_.kill) ? kill() : skipped(FaultKind::kKillWorker, options_.kill));
    kill_due_ = schedule_after(options_.kill, now);
  }
  // A drain or partition in progress has no due time: the next is scheduled at its end.
  if (drain_due_ && !drain_ticket_ && now >= *drain_due_) {
    if (dice(options_.drain)) {
      out.push_back(start_drain(now));
      drain_due_.reset();
      if (!drain_ticket_) drain_due_ = schedule_after(options_.drain, now);  // failed
    } else {
      out.push_back(skipped(FaultKind::kDrain, options_.drain));
      drain_due_ = schedule_after(options_.drain, now);
    }
  }
  if (partition_due_ && !partition_until_ && now >= *partition_due_) {
    if (dice(options_.partition)) {
      out.push_back(start_partition(now));
      partition_due_.reset();
      if (!partition_until_) partition_due_ = schedule_after(options_.partition, now);
    } else {
      out.push_back(skipped(FaultKind::kPartition, options_.partition));
      partition_due_ = schedule_after(options_.partition, now);
    }
  }
  return out;
}

std::vector<FaultEvent> FaultInjector::stop() {
  std::vector<FaultEvent> out;
  if (drain_ticket_) out.push_back(end_drain());
  if (partition_until_) out.push_back(end_partition());
  kill_due_.reset();
  drain_due_.reset();
  partition_due_.reset();
  return out;
}

FaultEvent FaultInjector::kill() {
  FaultEvent e{FaultKind::kKillWorker, "kill_worker", true, {}, nlohmann::json::object()};
  auto victim = actuator_.kill_random_worker();
  if (!victim) {
    e.ok = false;
    e.reason = fmt::format("kill a random worker: {}", victim.error().describe());
    return e;
  }
  e.reason = fmt::format("killed worker {} ({})", *victim, actuator_.name());
  e.details["worker"] = *victim;
  return e;
}

FaultEvent FaultInjector::start_drain(SteadyClock::time_point now) {
  FaultEvent e{FaultKind::kDrain, "drain", true, {}, nlohmann::json::object()};
  DrainOptions o;
  o.scope = options_.drain_scope;
  o.settle_timeout = options_.drain_settle_timeout;
  auto ticket = actuator_.drain(o);
  e.details["scope"] = to_string(o.scope);
  if (!ticket) {
    e.ok = false;
    e.reason = fmt::format("drain ({}): {}", to_string(o.scope), ticket.error().describe());
    return e;
  }
  e.details["target"] = ticket->target;
  e.details["settled"] = ticket->settled;
  e.details["waited_ms"] = ms(ticket->waited);
  e.details["duration_ms"] = ms(options_.drain_duration);
  if (ticket->wait_error) e.details["wait_error"] = ticket->wait_error->describe();
  e.reason = fmt::format("drained {} {}{} after {} ms; restoring in {} ms", to_string(o.scope),
                         ticket->target.empty() ? std::string("(all)") : ticket->target,
                         ticket->settled ? ", settled" : ", NOT settled", ms(ticket->waited),
                         ms(options_.drain_duration));
  // The hold starts once the fleet is empty (the wait is part of the drain, not of it).
  drain_until_ = now + ticket->waited + options_.drain_duration;
  drain_ticket_ = std::move(*ticket);
  return e;
}

FaultEvent FaultInjector::end_drain() {
  FaultEvent e{FaultKind::kDrain, "restore", true, {}, nlohmann::json::object()};
  e.details["scope"] = to_string(drain_ticket_->scope);
  e.details["target"] = drain_ticket_->target;
  auto st = actuator_.restore(*drain_ticket_);
  if (!st) {
    e.ok = false;
    e.reason = fmt::format("restore after drain: {}", st.error().describe());
  } else {
    e.reason = fmt::format("restored {} {}", to_string(drain_ticket_->scope),
                           drain_ticket_->target.empty() ? "(all)" : drain_ticket_->target);
  }
  // Cleared even on failure: retrying a restore forever would stall the loop; the
  // failure is recorded and the operator can `opfleet resume`.
  drain_ticket_.reset();
  return e;
}

std::vector<std::string> FaultInjector::partition_sockets() const {
  std::vector<std::string> out;
  if (options_.partition_target != PartitionTarget::kPg) out.push_back(options_.sqs_control);
  if (options_.partition_target != PartitionTarget::kSqs) out.push_back(options_.pg_control);
  return out;
}

FaultEvent FaultInjector::start_partition(SteadyClock::time_point now) {
  FaultEvent e{FaultKind::kPartition, "partition", true, {}, nlohmann::json::object()};
  e.details["target"] = to_string(options_.partition_target);
  e.details["mode"] = options_.partition_mode;
  e.details["duration_ms"] = ms(options_.partition_duration);
  std::vector<std::string> cut;
  for (const auto& path : partition_sockets()) {
    auto r = netfault_(path, options_.partition_mode);
    if (!r) {
      // Half a partition is not the fault that was asked for: heal what was cut.
      for (const auto& done : cut) (void)netfault_(done, "restore");
      e.ok = false;
      e.reason = fmt::format("partition ({}) via {}: {}", to_string(options_.partition_target),
                             path, r.error().describe());
      return e;
    }
    cut.push_back(path);
  }
  e.reason = fmt::format("partitioned workers from {} ({}) for {} ms",
                         to_string(options_.partition_target), options_.partition_mode,
                         ms(options_.partition_duration));
  partition_until_ = now + options_.partition_duration;
  return e;
}

FaultEvent FaultInjector::end_partition() {
  FaultEvent e{FaultKind::kPartition, "heal", true, {}, nlohmann::json::object()};
  e.details["target"] = to_string(options_.partition_target);
  std::vector<std::string> errors;
  // Every proxy gets its restore even when one fails.
  for (const auto& path : partition_sockets()) {
    if (auto r = netfault_(path, "restore"); !r) {
      errors.push_back(fmt::format("{}: {}", path, r.error().describe()));
    }
  }
  if (errors.empty()) {
    e.reason = fmt::format("healed the partition from {}", to_string(options_.partition_target));
  } else {
    e.ok = false;
    e.reason = fmt::format("heal partition: {}", fmt::join(errors, "; "));
  }
  partition_until_.reset();
  return e;
}

}  // namespace opfleet::scaler
