// `opfleet supervise`: one process per host (or ECS task) that runs N workers.
// docs/supervisor.md describes the process model; in short:
//  - creates the instance's shared-memory segment (rebuilding a stale one);
//  - fork+execs the workers (supervisor/launcher.h) and keeps an explicit child table
//    (supervisor/child_table.h) that decides restarts, backoff, crash loops, hung
//    workers, scaling and rolling restarts;
//  - one thread, one loop: epoll over a signalfd (every signal, SIGCHLD included, is read
//    there; no signal handlers), a timerfd for deadlines, and the HTTP sockets;
//  - reaps with waitpid(WNOHANG) and recovers a dead worker's claims at once
//    (supervisor/claim_recovery.h);
//  - reports to systemd (sd_notify), on /healthz and /metrics, and to the ECS agent
//    (task scale-in protection).
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "shm/segment.h"
#include "supervisor/child_table.h"
#include "supervisor/claim_recovery.h"
#include "supervisor/ecs_protection.h"
#include "supervisor/event_loop.h"
#include "supervisor/http_responder.h"
#include "supervisor/launcher.h"
#include "supervisor/metrics.h"
#include "supervisor/sd_notify.h"
#include "supervisor/supervise_options.h"

namespace opfleet::supervisor {

// The signals the supervisor reads from its signalfd (blocked in every thread).
sigset_t supervisor_signals();

class Supervisor {
 public:
  using Reload = std::function<Result<SupervisorConfig>()>;

  // `original_mask`: the signal mask before supervisor_signals() were blocked (given to
  // the workers). `reload` re-reads the configuration (SIGHUP).
  Supervisor(SupervisorConfig config, Reload reload, Notifier notifier, sigset_t original_mask);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs until shut down; returns the process exit code.
  int run();

 private:
  struct Totals {  // counters of workers that are gone (shared memory holds the live ones)
    std::uint64_t started = 0, succeeded = 0, failed = 0, handed_back = 0, duplicates = 0;
  };

  Status setup();
  void on_signals();
  void handle_signal(const signalfd_siginfo& si, TimePoint woke);
  void reap(TimePoint since);
  void execute(const std::vector<Action>& actions, TimePoint now);
  void spawn(const Action& a, TimePoint now);
  void on_exec_status(int fd);
  void send(const Action& a, int sig);
  std::vector<SlotObservation> observe() const;
  void set_receiving(bool on);
  void shutdown(bool now, const char* why);
  void reload();
  void set_desired(int n, const char* why);
  void report(TimePoint now);
  std::string status_line() const;
  std::uint64_t ops_in_flight() const;
  bool healthy() const;
  void publish_db_heartbeat();
  HttpAnswer answer_http(std::string_view path) const;
  MetricsSnapshot metrics() const;
  LaunchSpec launch_spec(int slot, std::uint64_t generation) const;
  TimePoint next_wakeup(TimePoint now) const;

  SupervisorConfig config_;
  Reload reload_;
  Notifier notifier_;
  Launcher launcher_;
  ChildTable table_;
  std::optional<shm::SegmentHandle> segment_;
  std::unique_ptr<EventLoop> loop_;
  UniqueFd signal_fd_;
  std::unique_ptr<HttpResponder> http_;
  std::unique_ptr<ClaimRecovery> recovery_;
  std::unique_ptr<EcsProtection> protection_;
  struct ExecWatch {  // a started worker whose exec has not reported yet
    UniqueFd fd;
    int slot;
    pid_t pid;
  };
  std::map<int, ExecWatch> exec_watches_;

  TimePoint started_at_;
  bool ready_sent_ = false;
  bool receiving_ = true;
  int sigterms_ = 0;
  bool fatal_config_ = false;
  std::optional<TimePoint> shutdown_since_;
  std::string last_status_;
  TimePoint status_sent_at_{};
  TimePoint next_watchdog_{};
  TimePoint next_db_heartbeat_{};  // the supervisors row (publish_db_heartbeat)
  Totals retired_;
  std::map<std::string, std::uint64_t> exits_by_kind_;
  std::uint64_t claims_recovered_ = 0;
  std::uint64_t recovery_failures_ = 0;
  std::uint64_t restarts_ = 0;
  Histogram recovery_latency_ = recovery_latency_histogram();
};

}  // namespace opfleet::supervisor
