#include "supervisor/supervisor.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "common/check.h"
#include "common/log.h"
#include "common/proc.h"
#include "supervisor/control.h"
#include "supervisor/instance_status.h"
#include "worker/worker_options.h"

namespace opfleet::supervisor {

namespace {

using cli::kExitConfig;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUnavailable;

// While a worker is starting the loop looks at shared memory often, so READY (and a
// rolling restart's next step) follows the worker's attach closely; otherwise a slower
// tick is enough for heartbeats, status and the ECS agent.
constexpr Duration kFastTick{5};
constexpr Duration kTick{200};
constexpr Duration kStatusMinInterval{1000};

TimePoint steady_from_ns(std::uint64_t ns) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::uint64_t usec(Duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string describe_exit(const ExitStatus& es) {
  if (es.signaled) {
    const char* name = sigabbrev_np(es.code);
    return fmt::format("signal {}",
                       name != nullptr ? fmt::format("SIG{}", name) : std::to_string(es.code));
  }
  return fmt::format("exit {}", es.code);
}

bool attached(const shm::WorkerSlot& ws) {
  auto s = static_cast<shm::WorkerState>(ws.state.load(std::memory_order_seq_cst));
  return s == shm::WorkerState::kRunning || s == shm::WorkerState::kDraining;
}

}  // namespace

sigset_t supervisor_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU})
    sigaddset(&set, s);
  sigaddset(&set, scale_signal());
  return set;
}

Supervisor::Supervisor(SupervisorConfig config, Reload reload, Notifier notifier,
                       sigset_t original_mask)
    : config_(std::move(config)),
      reload_(std::move(reload)),
      notifier_(std::move(notifier)),
      launcher_(original_mask),
      table_(static_cast<int>(shm::kMaxWorkers), config_.restart) {}

Supervisor::~Supervisor() {
  http_.reset();  // unregisters from the loop first
  for (auto& [fd, watch] : exec_watches_) loop_->remove(fd);
  if (loop_ && signal_fd_) loop_->remove(signal_fd_.get());
}

Status Supervisor::setup() {
  sigset_t set = supervisor_signals();
  signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) return fail(Error::internal(fmt::format("signalfd: {}", std::strerror(errno))));
  OPFLEET_TRY(auto segment, shm::SegmentHandle::create(config_.instance, getpid()));
  segment_.emplace(std::move(segment));
  OPFLEET_TRY(loop_, EventLoop::create());
  OPFLEET_TRY_STATUS(
      loop_->add(signal_fd_.get(), EPOLLIN, [this](std::uint32_t) { on_signals(); }));
  if (!config_.http_listen.empty()) {
    OPFLEET_TRY(http_, HttpResponder::start(*loop_, config_.http_listen,
                                            [this](std::string_view, std::string_view path) {
                                              return answer_http(path);
                                            }));
    log::info("http_listening", {{"address", config_.http_listen}, {"port", http_->port()}});
  }
  recovery_ = std::make_unique<ClaimRecovery>(config_.db, config_.sqs, config_.queue_name);
  protection_ = EcsProtection::from_environment(config_.protection);
  shm::Header& h = (*segment_)->header;
  h.receiving.store(1);
  table_.set_desired(config_.workers);
  h.desired_workers.store(static_cast<std::uint32_t>(table_.desired()));
  return ok();
}

int Supervisor::run() {
  started_at_ = Clock::now();
  if (auto st = setup(); !st) {
    log::error("supervisor_start_failed",
               {{"instance", config_.instance}, {"error", st.error().describe()}});
    switch (st.error().kind) {
      case ErrorKind::kConflict:
        return kExitUnavailable;  // another supervisor runs it
      case ErrorKind::kInvalid:
        return kExitConfig;
      default:
        return kExitFailure;
    }
  }
  log::info("supervisor_started", {{"instance", config_.instance},
                                   {"workers", table_.desired()},
                                   {"slots", config_.worker_slots},
                                   {"segment", segment_->name()},
                                   {"rebuilt_stale_segment", segment_->rebuilt_stale()},
                                   {"ecs_protection", protection_ != nullptr},
                                   {"sd_notify", notifier_.enabled()}});

  bool warmed = false;
  for (;;) {
    const TimePoint now = Clock::now();
    execute(table_.plan(now, observe()), now);
    if (!warmed) {
      // After the first workers are forked, so they start while we connect.
      recovery_->warm_up();
      warmed = true;
    }
    report(Clock::now());
    if (table_.shutting_down() && table_.processes() == 0) break;
    auto st = loop_->run_once(next_wakeup(Clock::now()));
    if (!st) log::error("event_loop_failed", {{"error", st.error().describe()}});
    // epoll/timerfd only fail on a bad descriptor or argument: a bug, and a loop that
    // cannot wait would spin. Aborting leaves the workers to drain (parent-death signal).
    OPFLEET_CHECK(st.has_value(), "the event loop cannot wait");
  }
  if (protection_) protection_->release(Clock::now());
  segment_->remove();
  log::info("supervisor_stopped", {{"instance", config_.instance},
                                   {"exit_code", fatal_config_ ? kExitConfig : kExitOk},
                                   {"claims_recovered", claims_recovered_},
                                   {"restarts", restarts_}});
  return fatal_config_ ? kExitConfig : kExitOk;
}

TimePoint Supervisor::next_wakeup(TimePoint now) const {
  TimePoint next = now + (table_.count(ChildState::kStarting) > 0 ? kFastTick : kTick);
  if (auto d = table_.next_deadline()) next = std::min(next, *d);
  if (notifier_.watchdog()) next = std::min(next, next_watchdog_);
  return next;
}

// ---------------------------------------------------------------------------------------
// Signals.

void Supervisor::on_signals() {
  const TimePoint woke = Clock::now();
  bool child_exited = false;
  for (;;) {
    signalfd_siginfo si{};
    ssize_t n = read(signal_fd_.get(), &si, sizeof si);
    if (n != static_cast<ssize_t>(sizeof si)) break;  // EAGAIN: drained
    if (static_cast<int>(si.ssi_signo) == SIGCHLD) {
      child_exited = true;  // coalesced: one reap loop takes every exited child
    } else {
      handle_signal(si, woke);
    }
  }
  if (child_exited) reap(woke);
}

void Supervisor::handle_signal(const signalfd_siginfo& si, TimePoint woke) {
  const int sig = static_cast<int>(si.ssi_signo);
  (void)woke;
  if (sig == SIGTERM) {
    ++sigterms_;
    shutdown(sigterms_ > 1, sigterms_ > 1 ? "second SIGTERM" : "SIGTERM");
  } else if (sig == SIGINT) {
    shutdown(true, "SIGINT");
  } else if (table_.shutting_down()) {
    log::info("signal_ignored", {{"signal", sig}, {"why", "shutting down"}});
  } else if (sig == SIGHUP) {
    reload();
  } else if (sig == SIGUSR1) {
    set_receiving(false);
  } else if (sig == SIGUSR2) {
    set_receiving(true);
  } else if (sig == SIGTTIN) {
    set_desired(table_.desired() + 1, "SIGTTIN");
  } else if (sig == SIGTTOU) {
    set_desired(table_.desired() - 1, "SIGTTOU");
  } else if (sig == scale_signal()) {
    // Only a sigqueue() carries a count; a plain kill() of this signal has none.
    if (si.ssi_code != SI_QUEUE || si.ssi_int < 0 ||
        si.ssi_int > static_cast<int>(shm::kMaxWorkers)) {
      log::warn("scale_request_ignored", {{"from_pid", si.ssi_pid}, {"value", si.ssi_int}});
      return;
    }
    set_desired(si.ssi_int, "scale request");
  }
}

void Supervisor::set_receiving(bool on) {
  if (receiving_ == on) return;
  receiving_ = on;
  // Publish first, then signal the attached workers. A worker attaching concurrently
  // publishes its state, then reads the flag (seq_cst on both sides): either it sees the
  // new flag, or we see it attached and signal it — it cannot miss both.
  (*segment_)->header.receiving.store(on ? 1 : 0, std::memory_order_seq_cst);
  const int sig = on ? SIGUSR2 : SIGUSR1;
  int signalled = 0;
  for (int i = 0; i < table_.capacity(); ++i) {
    const Child& c = table_.at(i);
    if (c.pid <= 0 || (c.state != ChildState::kRunning && c.state != ChildState::kStarting))
      continue;
    // A worker not yet attached has not blocked its signals: SIGUSR1 would kill it.
    if (!attached((*segment_)->workers[i])) continue;
    if (kill(c.pid, sig) == 0) ++signalled;
  }
  log::info(on ? "supervisor_resumed" : "supervisor_paused", {{"workers_signalled", signalled}});
}

void Supervisor::set_desired(int n, const char* why) {
  const int before = table_.desired();
  table_.set_desired(n);
  (*segment_)->header.desired_workers.store(static_cast<std::uint32_t>(table_.desired()));
  if (table_.desired() != before) {
    log::info("workers_scaled", {{"from", before}, {"to", table_.desired()}, {"by", why}});
  }
}

void Supervisor::shutdown(bool now, const char* why) {
  const TimePoint t = Clock::now();
  if (!shutdown_since_) {
    shutdown_since_ = t;
    (*segment_)->header.receiving.store(0, std::memory_order_seq_cst);
    log::info("supervisor_draining", {{"why", why},
                                      {"now", now},
                                      {"workers", table_.processes()},
                                      {"ops_in_flight", ops_in_flight()}});
  } else if (now) {
    log::info("supervisor_handing_back_now", {{"why", why}, {"workers", table_.processes()}});
  }
  const Duration budget = (now ? config_.restart.kill_grace : config_.restart.drain_kill_after) +
                          std::chrono::seconds(5);
  (void)notifier_.send(notify_message({{"STOPPING", "1"},
                                       {"EXTEND_TIMEOUT_USEC", std::to_string(usec(budget))},
                                       {"STATUS", fmt::format("draining: {}", why)}}));
  execute(table_.begin_shutdown(now, t), t);
}

void Supervisor::reload() {
  const auto mono_us = static_cast<std::uint64_t>(monotonic_ns() / 1000);
  (void)notifier_.send(
      notify_message({{"RELOADING", "1"}, {"MONOTONIC_USEC", std::to_string(mono_us)}}));
  auto next = reload_();
  if (!next) {
    log::error("reload_failed",
               {{"error", next.error().describe()}, {"then", "configuration kept"}});
    (void)notifier_.send(notify_message(
        {{"READY", "1"},
         {"STATUS", fmt::format("reload failed, configuration kept: {}", next.error().message)}}));
    return;
  }
  if (next->instance != config_.instance) {
    log::warn("reload_ignored_option", {{"option", "instance"}, {"why", "needs a restart"}});
    next->instance = config_.instance;
  }
  if (next->http_listen != config_.http_listen) {
    log::warn("reload_ignored_option", {{"option", "http-listen"}, {"why", "needs a restart"}});
    next->http_listen = config_.http_listen;
  }
  const bool workers_changed =
      next->worker_flags != config_.worker_flags || next->worker_env != config_.worker_env;
  const bool recovery_changed =
      next->db.url != config_.db.url || next->sqs.endpoint != config_.sqs.endpoint ||
      next->sqs.region != config_.sqs.region || next->queue_name != config_.queue_name;
  const int old_workers = config_.workers;
  config_ = std::move(*next);
  table_.set_policy(config_.restart);
  // --workers applies only when its configured value changed, so a reload does not undo
  // a runtime scale (TTIN/TTOU, `opfleet scale`).
  if (config_.workers != old_workers) set_desired(config_.workers, "reload");
  if (workers_changed) {
    table_.bump_config_version();
    log::info("rolling_restart", {{"workers", table_.active()}, {"why", "worker options changed"}});
  }
  if (recovery_changed) {
    recovery_ = std::make_unique<ClaimRecovery>(config_.db, config_.sqs, config_.queue_name);
    recovery_->warm_up();
  }
  log::info("supervisor_reloaded",
            {{"workers", table_.desired()}, {"rolling_restart", workers_changed}});
  (void)notifier_.send(notify_message({{"READY", "1"}, {"STATUS", status_line()}}));
}

// ---------------------------------------------------------------------------------------
// Children.

std::vector<SlotObservation> Supervisor::observe() const {
  std::vector<SlotObservation> out(static_cast<std::size_t>(table_.capacity()));
  for (int i = 0; i < table_.capacity(); ++i) {
    const Child& c = table_.at(i);
    if (!c.has_process()) continue;
    const shm::WorkerSlot& ws = (*segment_)->workers[i];
    SlotObservation& o = out[static_cast<std::size_t>(i)];
    o.attached = attached(ws) && ws.generation.load() == c.generation;
    o.heartbeat = steady_from_ns(ws.heartbeat_ns.load(std::memory_order_acquire));
    o.busy = count_claims(ws);
  }
  return out;
}

void Supervisor::execute(const std::vector<Action>& actions, TimePoint now) {
  for (const Action& a : actions) {
    switch (a.kind) {
      case Action::Kind::kSpawn:
        spawn(a, now);
        break;
      case Action::Kind::kTerminate:
        send(a, SIGTERM);
        break;
      case Action::Kind::kInterrupt:
        send(a, SIGINT);
        break;
      case Action::Kind::kKill:
        send(a, SIGKILL);
        break;
    }
  }
}

void Supervisor::send(const Action& a, int sig) {
  if (a.pid <= 0) return;
  const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGKILL";
  if (a.reason == StopReason::kHung && sig == SIGTERM) {
    const auto& ws = (*segment_)->workers[a.slot];
    const double age =
        static_cast<double>(monotonic_ns() - std::min(monotonic_ns(), ws.heartbeat_ns.load())) /
        1e9;
    log::warn("worker_hung", {{"slot", a.slot},
                              {"pid", a.pid},
                              {"heartbeat_age_s", age},
                              {"attached", attached(ws)},
                              {"action", "SIGTERM, then SIGKILL"}});
  } else if (sig == SIGKILL) {
    log::warn("worker_kill", {{"slot", a.slot},
                              {"pid", a.pid},
                              {"reason", to_string(a.reason)},
                              {"why", "did not exit in time"}});
  } else {
    log::info(
        "worker_stop",
        {{"slot", a.slot}, {"pid", a.pid}, {"signal", name}, {"reason", to_string(a.reason)}});
  }
  if (kill(a.pid, sig) != 0 && errno != ESRCH) {
    log::warn("worker_signal_failed",
              {{"slot", a.slot}, {"pid", a.pid}, {"error", std::strerror(errno)}});
  }
}

LaunchSpec Supervisor::launch_spec(int slot, std::uint64_t generation) const {
  static const std::string host = worker::host_name();
  LaunchSpec spec;
  // The running binary itself, even if the file was replaced by an upgrade since: the
  // workers must speak this build's shared-memory layout.
  spec.path = "/proc/self/exe";
  spec.argv = {"opfleet",
               "worker",
               "--instance",
               config_.instance,
               "--worker-index",
               std::to_string(slot),
               "--generation",
               std::to_string(generation),
               "--supervisor-pid",
               std::to_string(getpid()),
               fmt::format("--worker-id={}/{}/{}#{}", host, config_.instance, slot, generation)};
  spec.argv.insert(spec.argv.end(), config_.worker_flags.begin(), config_.worker_flags.end());
  // systemd's variables are for the supervisor alone.
  spec.env = child_environment({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                                "LISTEN_PID", "LISTEN_FDNAMES"},
                               config_.worker_env);
  return spec;
}

void Supervisor::spawn(const Action& a, TimePoint now) {
  shm::WorkerSlot& ws = (*segment_)->workers[a.slot];
  // No process is in this slot: we are its writer until the fork hands it to the worker.
  const std::uint64_t t = monotonic_ns();
  ws.pid.store(0);
  ws.generation.store(a.generation);
  ws.heartbeat_ns.store(t);
  ws.started_ns.store(t);
  ws.slots_total.store(static_cast<std::uint32_t>(config_.worker_slots));
  ws.slots_busy.store(0);
  for (auto* counter : {&ws.ops_started, &ws.ops_succeeded, &ws.ops_failed, &ws.ops_handed_back,
                        &ws.duplicates_dropped}) {
    counter->store(0);
  }
  ws.state.store(static_cast<std::uint32_t>(shm::WorkerState::kStarting),
                 std::memory_order_release);

  auto launched = launcher_.launch(launch_spec(a.slot, a.generation));
  if (!launched) {
    log::error("worker_start_failed", {{"slot", a.slot}, {"error", launched.error().describe()}});
    table_.on_spawn_failed(a.slot, a.generation, now);
    ws.state.store(static_cast<std::uint32_t>(shm::WorkerState::kExited));
    return;
  }
  const pid_t pid = launched->pid;
  table_.on_spawned(a.slot, pid, a.generation, now);
  if (a.generation > 1) {
    ++restarts_;
    (*segment_)->header.worker_restarts.store(restarts_);
  }
  log::info("worker_started", {{"slot", a.slot}, {"pid", pid}, {"generation", a.generation}});
  // The exec reports on its pipe; a failure also shows as an exit 127 (a crash).
  const int fd = launched->exec_status.get();
  if (loop_->add(fd, EPOLLIN, [this, fd](std::uint32_t) { on_exec_status(fd); })) {
    exec_watches_.emplace(fd, ExecWatch{std::move(launched->exec_status), a.slot, pid});
  }
}

void Supervisor::on_exec_status(int fd) {
  auto it = exec_watches_.find(fd);
  if (it == exec_watches_.end()) return;
  if (int err = Launcher::exec_error(fd); err != 0) {
    log::error("worker_exec_failed", {{"slot", it->second.slot},
                                      {"pid", it->second.pid},
                                      {"path", "/proc/self/exe"},
                                      {"error", std::strerror(err)}});
  }
  loop_->remove(fd);
  exec_watches_.erase(it);
}

void Supervisor::reap(TimePoint since) {
  for (;;) {
    int wstatus = 0;
    const pid_t pid = waitpid(-1, &wstatus, WNOHANG);
    if (pid <= 0) return;  // 0: the rest still run; -1/ECHILD: no children
    const ExitStatus es = ExitStatus::from_wait_status(wstatus);
    const TimePoint now = Clock::now();
    const ExitDecision d = table_.on_exit(pid, es, now);
    if (d.slot < 0) {
      log::debug("unknown_child_reaped", {{"pid", pid}, {"status", describe_exit(es)}});
      continue;
    }
    shm::WorkerSlot& ws = (*segment_)->workers[d.slot];
    retired_.started += ws.ops_started.load();
    retired_.succeeded += ws.ops_succeeded.load();
    retired_.failed += ws.ops_failed.load();
    retired_.handed_back += ws.ops_handed_back.load();
    retired_.duplicates += ws.duplicates_dropped.load();
    ws.state.store(static_cast<std::uint32_t>(shm::WorkerState::kExited));
    const std::string how = describe_exit(es);

    const RecoveryReport r =
        recovery_->recover(*segment_->get(), static_cast<std::uint32_t>(d.slot), since,
                           fmt::format("worker {} (pid {}) died: {}", d.slot, pid, how));
    if (r.claims > 0) {
      claims_recovered_ += static_cast<std::uint64_t>(r.claims);
      recovery_failures_ += static_cast<std::uint64_t>(r.failures);
      (*segment_)->header.recoveries.store(claims_recovered_);
      const double seconds = std::chrono::duration<double>(r.latency).count();
      recovery_latency_.observe(seconds);
      log::warn("claims_recovered", {{"slot", d.slot},
                                     {"pid", pid},
                                     {"claims", r.claims},
                                     {"leases_released", r.leases_released},
                                     {"messages_visible", r.messages_visible},
                                     {"failures", r.failures},
                                     {"latency_us", r.latency.count()}});
    }
    ++exits_by_kind_[to_string(d.kind)];
    const auto uptime_ms = d.uptime.count();
    switch (d.kind) {
      case ExitKind::kClean:
      case ExitKind::kStopped:
        log::info("worker_exited", {{"slot", d.slot},
                                    {"pid", pid},
                                    {"status", how},
                                    {"reason", to_string(d.reason)},
                                    {"uptime_ms", uptime_ms}});
        break;
      case ExitKind::kCrash:
        if (d.held_back) {
          log::error("worker_crash_loop",
                     {{"slot", d.slot},
                      {"pid", pid},
                      {"status", how},
                      {"crashes_max", config_.restart.crash_loop_max},
                      {"window_s", std::chrono::duration_cast<std::chrono::seconds>(
                                       config_.restart.crash_loop_window)
                                       .count()},
                      {"held_back_s",
                       std::chrono::duration_cast<std::chrono::seconds>(config_.restart.hold_back)
                           .count()}});
        } else {
          log::warn(
              "worker_crashed",
              {{"slot", d.slot},
               {"pid", pid},
               {"status", how},
               {"uptime_ms", uptime_ms},
               {"restart_in_ms",
                d.restart_at ? std::chrono::duration_cast<Duration>(*d.restart_at - now).count()
                             : -1}});
        }
        break;
      case ExitKind::kFatalConfig:
        log::error("worker_config_error",
                   {{"slot", d.slot},
                    {"pid", pid},
                    {"then", "not restarted; the supervisor stops (exit 78)"}});
        break;
    }
    if (table_.at(d.slot).state == ChildState::kEmpty) {
      ws.pid.store(0);
      ws.state.store(static_cast<std::uint32_t>(shm::WorkerState::kFree));
    }
    if (d.kind == ExitKind::kFatalConfig && !fatal_config_) {
      fatal_config_ = true;
      shutdown(false, "a worker found a fatal configuration error");
    }
  }
}

// ---------------------------------------------------------------------------------------
// Reporting: systemd, HTTP, ECS.

std::uint64_t Supervisor::ops_in_flight() const {
  std::uint64_t n = 0;
  for (const auto& ws : (*segment_)->workers) n += count_claims(ws);
  return n;
}

bool Supervisor::healthy() const {
  return !table_.shutting_down() && table_.all_up();
}

std::string Supervisor::status_line() const {
  if (table_.shutting_down()) {
    return fmt::format("draining: {} workers left, {} ops in flight", table_.processes(),
                       ops_in_flight());
  }
  return fmt::format("{}/{} workers running, {} ops in flight{}",
                     table_.count(ChildState::kRunning), table_.desired(), ops_in_flight(),
                     receiving_ ? "" : ", paused");
}

void Supervisor::report(TimePoint now) {
  if (!ready_sent_ && healthy()) {
    ready_sent_ = true;
    const auto startup_us =
        std::chrono::duration_cast<std::chrono::microseconds>(now - started_at_).count();
    last_status_ = status_line();
    status_sent_at_ = now;
    (void)notifier_.send(notify_message({{"READY", "1"}, {"STATUS", last_status_}}));
    log::info("supervisor_ready", {{"workers", table_.desired()}, {"startup_us", startup_us}});
  }
  if (ready_sent_ && now - status_sent_at_ >= kStatusMinInterval) {
    std::string line = status_line();
    if (line != last_status_) {
      (void)notifier_.send(notify_message({{"STATUS", line}}));
      last_status_ = std::move(line);
      status_sent_at_ = now;
    }
  }
  if (auto interval = notifier_.watchdog(); interval && now >= next_watchdog_) {
    (void)notifier_.send("WATCHDOG=1");
    next_watchdog_ = now + std::chrono::duration_cast<Duration>(*interval);
  }
  if (protection_) protection_->update(now, ops_in_flight() > 0);
  if (http_) http_->expire(now);
  if (ready_sent_ && now >= next_db_heartbeat_) {
    publish_db_heartbeat();
    next_db_heartbeat_ = now + std::chrono::seconds(5);
  }
}

// The `supervisors` row: what the dashboard's fleet page and `status` across hosts read.
void Supervisor::publish_db_heartbeat() {
  static const std::string host = worker::host_name();
  nlohmann::json workers = nlohmann::json::array();
  int running = 0;
  int busy = 0;
  int total = 0;
  for (int i = 0; i < table_.capacity(); ++i) {
    const Child& c = table_.at(i);
    if (!c.has_process()) continue;
    const shm::WorkerSlot& ws = (*segment_)->workers[i];
    const int slots = static_cast<int>(ws.slots_total.load());
    const int in_flight = count_claims(ws);
    if (c.state == ChildState::kRunning) ++running;
    busy += in_flight;
    total += slots;
    workers.push_back(
        {{"slot", i},
         {"pid", c.pid},
         {"worker_id", fmt::format("{}/{}/{}#{}", host, config_.instance, i, c.generation)},
         {"state", c.state != ChildState::kRunning ? to_string(c.state)
                   : in_flight > 0                 ? "busy"
                                                   : "idle"},
         {"slots", slots},
         {"busy", in_flight},
         {"restarts", c.restarts}});
  }
  const std::string state = table_.shutting_down() ? "stopping"
                            : !receiving_          ? "draining"
                            : healthy()            ? "running"
                                                   : "starting";
  auto st = recovery_->publish_heartbeat(host, config_.instance, static_cast<int>(getpid()),
                                         running, busy, total, state, {{"workers", workers}});
  if (!st) {
    log::debug("supervisor_heartbeat_failed", {{"error", st.error().describe()}});
  }
}

HttpAnswer Supervisor::answer_http(std::string_view path) const {
  if (path == "/healthz") {
    if (healthy()) return {200, "text/plain; charset=utf-8", "ok\n"};
    return {503, "text/plain; charset=utf-8",
            table_.shutting_down()
                ? "draining\n"
                : fmt::format("workers not up: {}/{} running\n", table_.count(ChildState::kRunning),
                              table_.desired())};
  }
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(metrics())};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n"};
}

MetricsSnapshot Supervisor::metrics() const {
  MetricsSnapshot m;
  for (int i = 0; i < table_.capacity(); ++i) {
    const Child& c = table_.at(i);
    if (c.state != ChildState::kEmpty) ++m.workers_by_state[to_string(c.state)];
  }
  m.desired_workers = table_.desired();
  m.receiving = receiving_ && !table_.shutting_down();
  m.healthy = healthy();
  m.ops_started = retired_.started;
  m.ops_succeeded = retired_.succeeded;
  m.ops_failed = retired_.failed;
  m.ops_handed_back = retired_.handed_back;
  m.duplicates_dropped = retired_.duplicates;
  for (int i = 0; i < table_.capacity(); ++i) {
    const shm::WorkerSlot& ws = (*segment_)->workers[i];
    m.ops_in_flight += count_claims(ws);
    if (!table_.at(i).has_process()) continue;
    m.ops_started += ws.ops_started.load();
    m.ops_succeeded += ws.ops_succeeded.load();
    m.ops_failed += ws.ops_failed.load();
    m.ops_handed_back += ws.ops_handed_back.load();
    m.duplicates_dropped += ws.duplicates_dropped.load();
    if (attached(ws)) {
      m.slots_total += ws.slots_total.load();
      m.slots_busy += ws.slots_busy.load();
    }
  }
  m.worker_restarts = restarts_;
  m.worker_exits = exits_by_kind_;
  m.claims_recovered = claims_recovered_;
  m.recovery_failures = recovery_failures_;
  m.recovery_latency = &recovery_latency_;
  return m;
}

}  // namespace opfleet::supervisor
