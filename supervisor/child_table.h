// The supervisor's table of worker processes, nginx-style: one entry per worker slot of
// the shared-memory segment, with the slot's process, state, generation and restart
// history. It is a pure state machine: the event loop feeds it events (spawned, exited,
// what shared memory says about each worker) with the time, and executes the actions
// plan() returns (fork, SIGTERM, SIGKILL). No syscalls and no clock of its own, so the
// restart, backoff, crash-loop, hung-worker, scaling and rolling-restart rules are tested
// by tables (tests/supervisor/child_table_test.cpp).
//
// Which slots count toward the desired worker count ("active"): starting, running,
// waiting for a restart, held back after a crash loop, and stopping because hung (it is
// replaced in the same slot). A slot stopping for a drain, a scale-in or a rolling
// replacement is on its way out and no longer counts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace opfleet::supervisor {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

enum class ChildState {
  kEmpty,           // no process, not wanted
  kStarting,        // forked; not yet attached to shared memory
  kRunning,         // attached and heartbeating
  kStopping,        // sent SIGTERM/SIGINT (see StopReason); reaped when it exits
  kWaitingRestart,  // exited unexpectedly; restarts at restart_at (backoff)
  kHeldBack,        // crash loop: not restarted before restart_at
};
const char* to_string(ChildState s);

enum class StopReason {
  kNone,
  kDrain,    // supervisor shutdown (SIGTERM): finish in-flight ops, then exit
  kNow,      // supervisor shutdown, hand back at once (SIGINT)
  kScaleIn,  // fewer workers wanted
  kReplace,  // rolling restart after a configuration change
  kHung,     // heartbeat stale: terminated, then replaced in the same slot
};
const char* to_string(StopReason r);

struct RestartPolicy {
  // Backoff between restarts of one slot: the first restart after a crash is immediate
  // (capacity back at once), then base, 2*base, 4*base... up to cap.
  Duration backoff_base{200};
  Duration backoff_cap{30000};
  // A worker that ran this long before it died starts the backoff from scratch.
  Duration stable_after{10000};
  // More than crash_loop_max crashes of one slot within crash_loop_window: the slot is
  // held back for hold_back (then tried again), instead of burning CPU in a loop.
  int crash_loop_max = 5;
  Duration crash_loop_window{60000};
  Duration hold_back{60000};
  // A worker not attached to shared memory this long after its start, or whose heartbeat
  // is older than this, is hung: SIGTERM, then SIGKILL after kill_grace.
  Duration hung_after{60000};
  Duration kill_grace{5000};
  // A worker told to drain is killed if still alive this long after the SIGTERM (its own
  // drain timeout plus a grace).
  Duration drain_kill_after{40000};
};

struct Child {
  ChildState state = ChildState::kEmpty;
  pid_t pid = 0;
  std::uint64_t generation = 0;  // starts of this slot so far (the running one's number)
  int config_version = 0;        // the configuration the process was started with
  std::uint32_t restarts = 0;    // starts after the first
  TimePoint last_start{};
  TimePoint restart_at{};  // kWaitingRestart, kHeldBack
  int consecutive_crashes = 0;
  std::deque<TimePoint> recent_crashes;  // within crash_loop_window
  StopReason stop_reason = StopReason::kNone;
  TimePoint kill_at{};  // kStopping: SIGKILL if still alive then
  bool kill_sent = false;
  bool has_process() const {
    return state == ChildState::kStarting || state == ChildState::kRunning ||
           state == ChildState::kStopping;
  }
};

// What shared memory says about one slot's process (read by the event loop).
struct SlotObservation {
  bool attached = false;   // WorkerSlot.state is running or draining (for this generation)
  TimePoint heartbeat{};   // WorkerSlot.heartbeat_ns on the steady clock
  std::uint32_t busy = 0;  // ops in flight
};

struct Action {
  enum class Kind {
    kSpawn,      // fork+exec a worker in `slot` with `generation`, then on_spawned()
    kTerminate,  // SIGTERM (drain, scale-in, replace, hung)
    kInterrupt,  // SIGINT (hand back now)
    kKill,       // SIGKILL (did not exit in time)
  };
  Kind kind;
  int slot;
  pid_t pid = 0;
  std::uint64_t generation = 0;  // kSpawn
  StopReason reason = StopReason::kNone;
  friend bool operator==(const Action&, const Action&) = default;
};

struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or the signal number when signaled
  static ExitStatus from_wait_status(int wstatus);
};

enum class ExitKind {
  kClean,        // exit 0 after we asked it to stop
  kStopped,      // asked to stop, but it died otherwise (killed after the timeout...)
  kCrash,        // exited without being asked (any status), or hung and killed
  kFatalConfig,  // exit 78: configuration error; never restarted, the supervisor stops
};
const char* to_string(ExitKind k);

struct ExitDecision {
  int slot = -1;  // -1: not a worker of ours
  ExitKind kind = ExitKind::kCrash;
  StopReason reason = StopReason::kNone;  // why it was stopping, if it was
  std::optional<TimePoint> restart_at;    // when it will be started again
  bool held_back = false;                 // crash loop: restart_at is the end of the hold
  Duration uptime{0};
  std::uint64_t generation = 0;
};

class ChildTable {
 public:
  ChildTable(int capacity, RestartPolicy policy);

  // The number of workers wanted (clamped to capacity).
  void set_desired(int n);
  int desired() const { return desired_; }
  // A new configuration: every worker started with an older one is replaced, one at a
  // time, each only after the previous replacement is up (rolling restart).
  void bump_config_version() { ++config_version_; }
  int config_version() const { return config_version_; }
  void set_policy(const RestartPolicy& policy) { policy_ = policy; }
  const RestartPolicy& policy() const { return policy_; }

  // Result of a kSpawn action.
  void on_spawned(int slot, pid_t pid, std::uint64_t generation, TimePoint now);
  // fork/exec failed: counted like a crash.
  void on_spawn_failed(int slot, std::uint64_t generation, TimePoint now);
  // A child was reaped.
  ExitDecision on_exit(pid_t pid, ExitStatus status, TimePoint now);

  // Shutdown: no more starts; every process is told to stop (drain: SIGTERM and up to
  // drain_kill_after; now: SIGINT and up to kill_grace). Calling it again with now=true
  // escalates a drain. Returns the signals to send.
  std::vector<Action> begin_shutdown(bool now, TimePoint t);
  bool shutting_down() const { return shutting_down_; }

  // Everything due at `now`, given what shared memory says (`observed` has one entry per
  // slot). Stops and kills are recorded as sent; spawns must be answered with
  // on_spawned/on_spawn_failed before the next call.
  std::vector<Action> plan(TimePoint now, std::span<const SlotObservation> observed);

  // The earliest time at which plan() has something to do without a new event (a
  // restart, the end of a hold, a kill deadline); nullopt when nothing is scheduled.
  // Hung detection is not included: it depends on heartbeats, checked on every tick.
  std::optional<TimePoint> next_deadline() const;

  const Child& at(int slot) const { return children_.at(static_cast<std::size_t>(slot)); }
  int capacity() const { return static_cast<int>(children_.size()); }
  std::optional<int> slot_of(pid_t pid) const;
  int count(ChildState s) const;
  int active() const;     // counts toward desired (see the header comment)
  int processes() const;  // slots with a live process
  // Every active slot runs (attached) with the current configuration.
  bool all_up() const;

 private:
  bool is_active(const Child& c) const;
  Duration backoff_delay(int consecutive_crashes) const;
  // Backoff and crash-loop accounting of an unexpected exit; true when held back.
  bool record_crash(Child& c, TimePoint now, Duration uptime);
  void stop(Child& c, StopReason reason, TimePoint kill_at);
  std::optional<int> pick_scale_in_victim(std::span<const SlotObservation> observed) const;

  RestartPolicy policy_;
  std::vector<Child> children_;
  int desired_ = 0;
  int config_version_ = 1;
  bool shutting_down_ = false;
};

}  // namespace opfleet::supervisor
