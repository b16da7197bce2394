#include "supervisor/child_table.h"

#include <sys/wait.h>

#include <algorithm>
#include <limits>

#include "cli/exit_codes.h"

namespace opfleet::supervisor {

using cli::kExitConfig;  // a worker's "fatal configuration, do not respawn"

const char* to_string(ChildState s) {
  switch (s) {
    case ChildState::kEmpty:
      return "empty";
    case ChildState::kStarting:
      return "starting";
    case ChildState::kRunning:
      return "running";
    case ChildState::kStopping:
      return "stopping";
    case ChildState::kWaitingRestart:
      return "waiting_restart";
    case ChildState::kHeldBack:
      return "held_back";
  }
  return "unknown";
}

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::kNone:
      return "none";
    case StopReason::kDrain:
      return "drain";
    case StopReason::kNow:
      return "now";
    case StopReason::kScaleIn:
      return "scale_in";
    case StopReason::kReplace:
      return "replace";
    case StopReason::kHung:
      return "hung";
  }
  return "unknown";
}

const char* to_string(ExitKind k) {
  switch (k) {
    case ExitKind::kClean:
      return "clean";
    case ExitKind::kStopped:
      return "stopped";
    case ExitKind::kCrash:
      return "crash";
    case ExitKind::kFatalConfig:
      return "fatal_config";
  }
  return "unknown";
}

ExitStatus ExitStatus::from_wait_status(int wstatus) {
  if (WIFSIGNALED(wstatus)) return {true, WTERMSIG(wstatus)};
  return {false, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 0};
}

ChildTable::ChildTable(int capacity, RestartPolicy policy)
    : policy_(policy), children_(static_cast<std::size_t>(std::max(capacity, 0))) {}

void ChildTable::set_desired(int n) {
  desired_ = std::clamp(n, 0, capacity());
}

bool ChildTable::is_active(const Child& c) const {
  switch (c.state) {
    case ChildState::kStarting:
    case ChildState::kRunning:
    case ChildState::kWaitingRestart:
    case ChildState::kHeldBack:
      return true;
    case ChildState::kStopping:
      return c.stop_reason == StopReason::kHung;
    case ChildState::kEmpty:
      return false;
  }
  return false;
}

int ChildTable::active() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(),
                                        [this](const Child& c) { return is_active(c); }));
}

int ChildTable::processes() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(),
                                        [](const Child& c) { return c.has_process(); }));
}

int ChildTable::count(ChildState s) const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(),
                                        [s](const Child& c) { return c.state == s; }));
}

bool ChildTable::all_up() const {
  return !shutting_down_ && count(ChildState::kRunning) >= desired_;
}

std::optional<int> ChildTable::slot_of(pid_t pid) const {
  if (pid <= 0) return std::nullopt;
  for (int i = 0; i < capacity(); ++i) {
    if (children_[static_cast<std::size_t>(i)].pid == pid &&
        children_[static_cast<std::size_t>(i)].has_process()) {
      return i;
    }
  }
  return std::nullopt;
}

Duration ChildTable::backoff_delay(int consecutive_crashes) const {
  if (consecutive_crashes <= 1) return Duration::zero();
  Duration d = policy_.backoff_base;
  for (int i = 2; i < consecutive_crashes && d < policy_.backoff_cap; ++i) d *= 2;
  return std::min(d, policy_.backoff_cap);
}

void ChildTable::stop(Child& c, StopReason reason, TimePoint kill_at) {
  c.state = ChildState::kStopping;
  c.stop_reason = reason;
  c.kill_at = kill_at;
  c.kill_sent = false;
}

void ChildTable::on_spawned(int slot, pid_t pid, std::uint64_t generation, TimePoint now) {
  Child& c = children_.at(static_cast<std::size_t>(slot));
  c.state = ChildState::kStarting;
  c.pid = pid;
  c.generation = generation;
  c.last_start = now;
}

namespace {

void reset_process(Child& c) {
  c.pid = 0;
  c.stop_reason = StopReason::kNone;
  c.kill_sent = false;
}

}  // namespace

void ChildTable::on_spawn_failed(int slot, std::uint64_t generation, TimePoint now) {
  Child& c = children_.at(static_cast<std::size_t>(slot));
  c.generation = generation;
  c.last_start = now;
  reset_process(c);
  if (shutting_down_) {
    c.state = ChildState::kEmpty;
    return;
  }
  // Same accounting as a crash: a fork that keeps failing must not spin.
  record_crash(c, now, Duration::zero());
}

bool ChildTable::record_crash(Child& c, TimePoint now, Duration uptime) {
  if (uptime >= policy_.stable_after) c.consecutive_crashes = 0;
  ++c.consecutive_crashes;
  c.recent_crashes.push_back(now);
  while (!c.recent_crashes.empty() && c.recent_crashes.front() < now - policy_.crash_loop_window)
    c.recent_crashes.pop_front();
  if (static_cast<int>(c.recent_crashes.size()) > policy_.crash_loop_max) {
    c.state = ChildState::kHeldBack;
    c.restart_at = now + policy_.hold_back;
    c.recent_crashes.clear();
    c.consecutive_crashes = 0;
    return true;
  }
  c.state = ChildState::kWaitingRestart;
  c.restart_at = now + backoff_delay(c.consecutive_crashes);
  return false;
}

ExitDecision ChildTable::on_exit(pid_t pid, ExitStatus status, TimePoint now) {
  ExitDecision d;
  auto slot = slot_of(pid);
  if (!slot) return d;
  Child& c = children_[static_cast<std::size_t>(*slot)];
  d.slot = *slot;
  d.generation = c.generation;
  d.uptime = std::chrono::duration_cast<Duration>(now - c.last_start);
  const bool asked = c.state == ChildState::kStopping;
  d.reason = asked ? c.stop_reason : StopReason::kNone;
  const bool exited_zero = !status.signaled && status.code == 0;

  if (!status.signaled && status.code == kExitConfig) {
    d.kind = ExitKind::kFatalConfig;
    reset_process(c);
    c.state = ChildState::kEmpty;
    return d;
  }
  if (asked && c.stop_reason != StopReason::kHung) {
    d.kind = exited_zero ? ExitKind::kClean : ExitKind::kStopped;
    reset_process(c);
    c.state = ChildState::kEmpty;
    return d;
  }
  d.kind = ExitKind::kCrash;
  reset_process(c);
  if (shutting_down_) {
    c.state = ChildState::kEmpty;
    return d;
  }
  d.held_back = record_crash(c, now, d.uptime);
  d.restart_at = c.restart_at;
  return d;
}

std::vector<Action> ChildTable::begin_shutdown(bool now, TimePoint t) {
  shutting_down_ = true;
  std::vector<Action> out;
  for (int i = 0; i < capacity(); ++i) {
    Child& c = children_[static_cast<std::size_t>(i)];
    switch (c.state) {
      case ChildState::kWaitingRestart:
      case ChildState::kHeldBack:
        c.state = ChildState::kEmpty;
        break;
      case ChildState::kStarting:
      case ChildState::kRunning:
        if (now) {
          stop(c, StopReason::kNow, t + policy_.kill_grace);
          out.push_back({Action::Kind::kInterrupt, i, c.pid, c.generation, StopReason::kNow});
        } else {
          stop(c, StopReason::kDrain, t + policy_.drain_kill_after);
          out.push_back({Action::Kind::kTerminate, i, c.pid, c.generation, StopReason::kDrain});
        }
        break;
      case ChildState::kStopping:
        if (now && c.stop_reason != StopReason::kNow) {
          c.stop_reason = StopReason::kNow;
          c.kill_at = std::min(c.kill_at, t + policy_.kill_grace);
          out.push_back({Action::Kind::kInterrupt, i, c.pid, c.generation, StopReason::kNow});
        } else if (!now && c.stop_reason != StopReason::kNow &&
                   c.stop_reason != StopReason::kHung) {
          // Already draining (scale-in, replace): it is now part of the shutdown drain.
          c.stop_reason = StopReason::kDrain;
        }
        break;
      case ChildState::kEmpty:
        break;
    }
  }
  return out;
}

std::optional<int> ChildTable::pick_scale_in_victim(
    std::span<const SlotObservation> observed) const {
  auto busy = [&](int i) -> std::uint32_t {
    return static_cast<std::size_t>(i) < observed.size()
               ? observed[static_cast<std::size_t>(i)].busy
               : 0;
  };
  // Cheapest first: no process at all, a hung one already going, one still starting
  // (no ops yet), an idle one, then the least busy. Highest index on ties, so the low
  // slots stay stable.
  auto rank = [&](const Child& c, int i) -> std::uint64_t {
    switch (c.state) {
      case ChildState::kWaitingRestart:
      case ChildState::kHeldBack:
        return 0;
      case ChildState::kStopping:
        return 1;
      case ChildState::kStarting:
        return 2;
      case ChildState::kRunning:
        return 3 + static_cast<std::uint64_t>(busy(i));
      case ChildState::kEmpty:
        break;
    }
    return std::numeric_limits<std::uint64_t>::max();
  };
  std::optional<int> best;
  std::uint64_t best_rank = std::numeric_limits<std::uint64_t>::max();
  for (int i = capacity() - 1; i >= 0; --i) {
    const Child& c = children_[static_cast<std::size_t>(i)];
    if (!is_active(c)) continue;
    std::uint64_t r = rank(c, i);
    if (r < best_rank) {
      best_rank = r;
      best = i;
    }
  }
  return best;
}

std::vector<Action> ChildTable::plan(TimePoint now, std::span<const SlotObservation> observed) {
  std::vector<Action> out;
  auto seen = [&](int i) -> SlotObservation {
    return static_cast<std::size_t>(i) < observed.size() ? observed[static_cast<std::size_t>(i)]
                                                         : SlotObservation{};
  };

  // Attached workers are up.
  for (int i = 0; i < capacity(); ++i) {
    Child& c = children_[static_cast<std::size_t>(i)];
    if (c.state == ChildState::kStarting && seen(i).attached) c.state = ChildState::kRunning;
  }
  // Stops that ran out of time.
  for (int i = 0; i < capacity(); ++i) {
    Child& c = children_[static_cast<std::size_t>(i)];
    if (c.state == ChildState::kStopping && !c.kill_sent && now >= c.kill_at) {
      c.kill_sent = true;
      out.push_back({Action::Kind::kKill, i, c.pid, c.generation, c.stop_reason});
    }
  }
  if (shutting_down_) return out;

  // Hung workers: no attach within hung_after of the start, or a stale heartbeat.
  for (int i = 0; i < capacity(); ++i) {
    Child& c = children_[static_cast<std::size_t>(i)];
    bool hung = false;
    if (c.state == ChildState::kStarting) {
      hung = now - c.last_start > policy_.hung_after;
    } else if (c.state == ChildState::kRunning) {
      TimePoint beat = std::max(seen(i).heartbeat, c.last_start);
      hung = now > beat && now - beat > policy_.hung_after;
    }
    if (hung) {
      stop(c, StopReason::kHung, now + policy_.kill_grace);
      out.push_back({Action::Kind::kTerminate, i, c.pid, c.generation, StopReason::kHung});
    }
  }

  // Rolling replacement: one outdated worker at a time, and only once the previous
  // replacement is up, so capacity never drops and no in-flight op is cut short (the
  // retired worker drains).
  if (count(ChildState::kStarting) == 0 && active() == desired_) {
    std::optional<int> pick;
    std::uint32_t pick_busy = 0;
    for (int i = capacity() - 1; i >= 0; --i) {
      const Child& c = children_[static_cast<std::size_t>(i)];
      if (c.state != ChildState::kRunning || c.config_version >= config_version_) continue;
      if (!pick || seen(i).busy < pick_busy) {
        pick = i;
        pick_busy = seen(i).busy;
      }
    }
    if (pick) {
      Child& c = children_[static_cast<std::size_t>(*pick)];
      stop(c, StopReason::kReplace, now + policy_.drain_kill_after);
      out.push_back({Action::Kind::kTerminate, *pick, c.pid, c.generation, StopReason::kReplace});
    }
  }

  // Scale in.
  while (active() > desired_) {
    auto victim = pick_scale_in_victim(observed);
    if (!victim) break;
    Child& c = children_[static_cast<std::size_t>(*victim)];
    switch (c.state) {
      case ChildState::kWaitingRestart:
      case ChildState::kHeldBack:
        c.state = ChildState::kEmpty;
        break;
      case ChildState::kStopping:  // hung, already terminating: just do not replace it
        c.stop_reason = StopReason::kScaleIn;
        break;
      default:
        stop(c, StopReason::kScaleIn, now + policy_.drain_kill_after);
        out.push_back(
            {Action::Kind::kTerminate, *victim, c.pid, c.generation, StopReason::kScaleIn});
        break;
    }
  }

  auto spawn = [&](int i) {
    Child& c = children_[static_cast<std::size_t>(i)];
    if (c.generation > 0) ++c.restarts;
    c.state = ChildState::kStarting;
    c.pid = 0;
    c.config_version = config_version_;
    c.last_start = now;
    c.stop_reason = StopReason::kNone;
    c.kill_sent = false;
    out.push_back({Action::Kind::kSpawn, i, 0, c.generation + 1, StopReason::kNone});
  };
  // Restarts that are due.
  for (int i = 0; i < capacity(); ++i) {
    const Child& c = children_[static_cast<std::size_t>(i)];
    if ((c.state == ChildState::kWaitingRestart || c.state == ChildState::kHeldBack) &&
        now >= c.restart_at) {
      spawn(i);
    }
  }
  // Scale out: the lowest free slots.
  for (int i = 0; i < capacity() && active() < desired_; ++i) {
    if (children_[static_cast<std::size_t>(i)].state == ChildState::kEmpty) spawn(i);
  }
  return out;
}

std::optional<TimePoint> ChildTable::next_deadline() const {
  std::optional<TimePoint> next;
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  for (const Child& c : children_) {
    if (c.state == ChildState::kWaitingRestart || c.state == ChildState::kHeldBack) {
      if (!shutting_down_) consider(c.restart_at);
    } else if (c.state == ChildState::kStopping && !c.kill_sent) {
      consider(c.kill_at);
    }
  }
  return next;
}

}  // namespace opfleet::supervisor
