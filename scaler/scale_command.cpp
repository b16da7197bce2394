// `opfleet scale`: one command for both ways of sizing workers.
//   opfleet scale --instance X --workers N   sets one local supervisor's count (as before)
//   opfleet scale --dry-run                   prints what the scaler would do now, and why
//   opfleet scale [--run]                     runs the control loop (scaler/control_loop.h)
// docs/scaler.md describes the policies, options and failure simulation.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "config/validate.h"
#include "ecs/client.h"
#include "ecs/client_config.h"
#include "netfault/control.h"
#include "scaler/control_loop.h"
#include "scaler/ecs_actuator.h"
#include "scaler/fault_injector.h"
#include "scaler/local_actuator.h"
#include "scaler/metrics_source.h"
#include "scaler/status_server.h"
#include "sqs/client.h"
#include "sqs/client_config.h"
#include "store/connection_config.h"
#include "supervisor/control.h"

namespace opfleet::cli {

namespace {

namespace po = boost::program_options;
using opfleet::Millis;

po::typed_value<double>* fraction() {
  return config::checked<double>([](const double& v) {
    return v >= 0 && v <= 1 ? std::string() : std::string("must be between 0 and 1");
  });
}
po::typed_value<double>* positive_double() {
  return config::checked<double>(
      [](const double& v) { return v > 0 ? std::string() : std::string("must be positive"); });
}

// clang-format off
config::CommandSpec scale_spec() {
  config::CommandSpec spec;
  spec.name = "scale";
  spec.usage = "opfleet scale --instance NAME --workers N [--wait]\n"
               "       opfleet scale --dry-run [options]\n"
               "       opfleet scale [--run] [options]";
  spec.summary =
      "With --workers: sets how many workers one local supervisor runs (scaling in drains idle "
      "workers first). Otherwise the scaler: reads queue depth (SQS) and the oldest queued "
      "step's age (PostgreSQL), decides a worker count (threshold or target policy), sets it "
      "through the actuator (local supervisors or an ECS service), records each decision, "
      "action and fault in scaling_events, and serves /healthz and /metrics. --dry-run prints "
      "one decision and exits. Failure simulation (--fault-*) is off unless asked for.";
  po::options_description one("single supervisor (--workers)");
  one.add_options()
      ("instance", config::non_empty_string()->value_name("NAME"),
       "the supervisor instance (as given to `opfleet supervise --instance`)")
      ("workers", config::non_negative_int()->value_name("N"), "workers wanted on --instance")
      ("wait", po::bool_switch(), "return once exactly N workers are running")
      ("timeout-s", config::positive_int()->value_name("S")->default_value(60),
       "give up (exit 1) after this long");
  po::options_description loop("scaler");
  loop.add_options()
      ("run", po::bool_switch(), "run the control loop (the default without --workers)")
      ("dry-run", po::bool_switch(), "print one decision (metrics, capacity, policy, reason) and exit")
      ("actuator", config::one_of({"local", "ecs"})->value_name("KIND")->default_value("local"),
       "what is scaled: local supervisors (--local-instances) or an ECS service (--ecs-*)")
      ("local-instances", po::value<std::string>()->value_name("A,B")->default_value("", ""),
       "comma-separated supervisor instances on this host (--actuator local)")
      ("poll-interval-ms", config::positive_int()->value_name("MS")->default_value(5000),
       "time between polls (independent of the cooldowns)")
      ("http-listen", po::value<std::string>()->value_name("ADDR")->default_value("", ""),
       "serve /healthz and /metrics on this IPv4 address:port (port 0: any)")
      ("source", config::non_empty_string()->value_name("NAME")->default_value("scaler"),
       "the scaling_events source column (tells several scalers apart)")
      ("record-samples", po::value<bool>()->value_name("BOOL")->default_value(true),
       "write a queue_samples row per poll (the dashboard's queue chart)");
  po::options_description policy("scaling policy");
  policy.add_options()
      ("policy", config::one_of({"threshold", "target"})->value_name("KIND")->default_value("threshold"),
       "threshold: fixed steps when visible crosses workers x per-worker thresholds; target: "
       "hold the backlog per worker at a target")
      ("min-workers", config::non_negative_int()->value_name("N")->default_value(1), "never fewer")
      ("max-workers", config::positive_int()->value_name("N")->default_value(8), "never more")
      ("scale-up-per-worker", positive_double()->value_name("X")->default_value(5, "5"),
       "threshold: scale out when visible > workers x X")
      ("scale-down-per-worker", config::checked<double>([](const double& v) {
          return v >= 0 ? std::string() : std::string("must not be negative"); })
          ->value_name("X")->default_value(2, "2"),
       "threshold: scale in when visible < workers x X")
      ("step-out", config::positive_int()->value_name("N")->default_value(1), "threshold: workers added per scale-out")
      ("step-in", config::positive_int()->value_name("N")->default_value(1), "threshold: workers removed per scale-in; target: at most this many")
      ("scale-out-cooldown-s", config::non_negative_int()->value_name("S")->default_value(60),
       "no scale-out sooner than this after any action")
      ("scale-in-cooldown-s", config::non_negative_int()->value_name("S")->default_value(120),
       "no scale-in sooner than this after any action")
      ("scale-in-stable-s", config::non_negative_int()->value_name("S")->default_value(120),
       "target: the need must stay low this long before a scale-in")
      ("max-metrics-age-s", config::positive_int()->value_name("S")->default_value(30),
       "older metrics are stale: hold, never scale in")
      ("target-backlog", config::checked<double>([](const double& v) {
          return v >= 0 ? std::string() : std::string("must not be negative"); })
          ->value_name("X")->default_value(0, "0"),
       "target: backlog per worker to hold (0: from --acceptable-latency-s / --mean-op-s x --slots-per-worker)")
      ("acceptable-latency-s", positive_double()->value_name("S")->default_value(60, "60"),
       "target: how long an op may wait in the queue")
      ("mean-op-s", positive_double()->value_name("S")->default_value(20, "20"),
       "target: mean op duration")
      ("slots-per-worker", config::positive_int()->value_name("N")->default_value(1),
       "target: ops one worker runs at once (its --slots)")
      ("target-tolerance", fraction()->value_name("F")->default_value(0.1, "0.1"),
       "target: no action while within ±F of the target");
  po::options_description faults("failure simulation (each off unless its interval is set)");
  faults.add_options()
      ("fault-kill-interval-ms", config::non_negative_int()->value_name("MS")->default_value(0),
       "kill a random worker (local: SIGKILL; ecs: StopTask) about this often; 0: off")
      ("fault-kill-probability", fraction()->value_name("P")->default_value(1, "1"),
       "chance that a due kill happens")
      ("fault-drain-interval-ms", config::non_negative_int()->value_name("MS")->default_value(0),
       "drain (local: SIGUSR1; ecs: desired 0 or an instance DRAINING) about this often; 0: off")
      ("fault-drain-probability", fraction()->value_name("P")->default_value(1, "1"),
       "chance that a due drain happens")
      ("fault-drain-duration-ms", config::non_negative_int()->value_name("MS")->default_value(30000),
       "how long the fleet stays drained once empty, before it is restored")
      ("fault-drain-scope", config::one_of({"fleet", "host"})->value_name("SCOPE")->default_value("fleet"),
       "fleet: every worker; host: one supervisor (ecs: one container instance)")
      ("fault-drain-settle-timeout-ms", config::positive_int()->value_name("MS")->default_value(120000),
       "longest wait for the drained workers to stop")
      ("fault-partition-interval-ms", config::non_negative_int()->value_name("MS")->default_value(0),
       "cut workers off SQS and/or PostgreSQL through the netfault proxies about this often; 0: off")
      ("fault-partition-probability", fraction()->value_name("P")->default_value(1, "1"),
       "chance that a due partition happens")
      ("fault-partition-duration-ms", config::positive_int()->value_name("MS")->default_value(10000),
       "how long a partition lasts")
      ("fault-partition-target", config::one_of({"sqs", "pg", "both"})->value_name("T")->default_value("both"),
       "what the workers are cut off from")
      ("fault-partition-mode", config::one_of({"blackhole", "reject"})->value_name("MODE")->default_value("blackhole"),
       "blackhole: packets vanish (timeouts); reject: connections reset")
      ("partition-sqs-control", po::value<std::string>()->value_name("PATH")->default_value("", ""),
       "control socket of the `opfleet netfault` proxy the workers reach SQS through")
      ("partition-pg-control", po::value<std::string>()->value_name("PATH")->default_value("", ""),
       "control socket of the `opfleet netfault` proxy the workers reach PostgreSQL through")
      ("fault-jitter", config::checked<double>([](const double& v) {
          return v >= 0 && v < 1 ? std::string() : std::string("must be in [0, 1)"); })
          ->value_name("F")->default_value(0.2, "0.2"),
       "each fault interval varies by up to ±F of itself");
  spec.options.add(config::general_options()).add(one).add(loop).add(policy).add(faults)
      .add(config::database_options(false)).add(config::aws_options()).add(ecs::ecs_options());
  return spec;
}
// clang-format on

const config::Registration kScaleSpec(&scale_spec);

int no_supervisor(const Error& e) {
  fmt::print(stderr, "opfleet: {}\n", e.message);
  return e.kind == ErrorKind::kNotFound || e.kind == ErrorKind::kUnavailable ? kExitUnavailable
                                                                             : kExitFailure;
}

int running_workers(const shm::Segment& s) {
  int n = 0;
  for (const auto& w : s.workers) {
    n += w.state.load() == static_cast<std::uint32_t>(shm::WorkerState::kRunning) ? 1 : 0;
  }
  return n;
}

// `opfleet scale --instance X --workers N [--wait]`: one supervisor, as before the scaler.
int scale_one(const po::variables_map& vm) {
  if (!vm.count("instance")) {
    fmt::print(stderr, "opfleet scale: --workers needs --instance\n");
    return kExitUsage;
  }
  const int workers = vm["workers"].as<int>();
  const auto timeout = std::chrono::seconds(vm["timeout-s"].as<int>());
  auto link = supervisor::find_supervisor(vm["instance"].as<std::string>());
  if (!link) return no_supervisor(link.error());
  if (auto st = supervisor::request_scale(*link, workers, timeout); !st) {
    fmt::print(stderr, "opfleet scale: {}\n", st.error().message);
    return st.error().kind == ErrorKind::kInvalid ? kExitUsage : kExitFailure;
  }
  if (!vm["wait"].as<bool>()) return kExitOk;
  // Shared memory is the only view another process has: poll it.
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (running_workers(*link->segment.get()) != workers) {
    if (std::chrono::steady_clock::now() >= end) {
      fmt::print(stderr, "opfleet scale: {} workers running after {} s, {} wanted\n",
                 running_workers(*link->segment.get()), timeout.count(), workers);
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kExitOk;
}

Result<scaler::Policy> policy_from(const po::variables_map& vm) {
  scaler::Policy p;
  p.kind = vm["policy"].as<std::string>() == "target" ? scaler::PolicyKind::kTarget
                                                      : scaler::PolicyKind::kThreshold;
  p.limits.min = vm["min-workers"].as<int>();
  p.limits.max = vm["max-workers"].as<int>();
  if (p.limits.min > p.limits.max) {
    return fail(Error::invalid(
        fmt::format("--min-workers {} > --max-workers {}", p.limits.min, p.limits.max)));
  }
  p.limits.scale_out_cooldown = scaler::Seconds(vm["scale-out-cooldown-s"].as<int>());
  p.limits.scale_in_cooldown = scaler::Seconds(vm["scale-in-cooldown-s"].as<int>());
  p.limits.max_metrics_age = scaler::Seconds(vm["max-metrics-age-s"].as<int>());
  p.threshold.up_per_worker = vm["scale-up-per-worker"].as<double>();
  p.threshold.down_per_worker = vm["scale-down-per-worker"].as<double>();
  if (p.threshold.down_per_worker >= p.threshold.up_per_worker) {
    return fail(Error::invalid(
        "--scale-down-per-worker must be below --scale-up-per-worker (the gap is what keeps "
        "the threshold policy from flapping)"));
  }
  p.threshold.step_out = vm["step-out"].as<int>();
  p.threshold.step_in = vm["step-in"].as<int>();
  const double target = vm["target-backlog"].as<double>();
  p.target.target_backlog_per_worker =
      target > 0
          ? target
          : scaler::target_backlog(vm["acceptable-latency-s"].as<double>(),
                                   vm["mean-op-s"].as<double>(), vm["slots-per-worker"].as<int>());
  p.target.tolerance = vm["target-tolerance"].as<double>();
  p.target.max_step_in = vm["step-in"].as<int>();
  p.target.scale_in_stable_for = scaler::Seconds(vm["scale-in-stable-s"].as<int>());
  return p;
}

Result<scaler::FaultOptions> faults_from(const po::variables_map& vm) {
  scaler::FaultOptions f;
  const double jitter = vm["fault-jitter"].as<double>();
  auto schedule = [&](const char* interval, const char* probability) {
    scaler::FaultSchedule s;
    s.interval = Millis(vm[interval].as<int>());
    s.enabled = s.interval > Millis::zero();
    s.jitter = jitter;
    s.probability = vm[probability].as<double>();
    return s;
  };
  f.kill = schedule("fault-kill-interval-ms", "fault-kill-probability");
  f.drain = schedule("fault-drain-interval-ms", "fault-drain-probability");
  f.drain_duration = Millis(vm["fault-drain-duration-ms"].as<int>());
  f.drain_scope = vm["fault-drain-scope"].as<std::string>() == "host" ? scaler::DrainScope::kHost
                                                                      : scaler::DrainScope::kFleet;
  f.drain_settle_timeout = Millis(vm["fault-drain-settle-timeout-ms"].as<int>());
  f.partition = schedule("fault-partition-interval-ms", "fault-partition-probability");
  f.partition_duration = Millis(vm["fault-partition-duration-ms"].as<int>());
  OPFLEET_TRY(f.partition_target,
              scaler::parse_partition_target(vm["fault-partition-target"].as<std::string>()));
  f.partition_mode = vm["fault-partition-mode"].as<std::string>();
  f.sqs_control = vm["partition-sqs-control"].as<std::string>();
  f.pg_control = vm["partition-pg-control"].as<std::string>();
  OPFLEET_TRY_STATUS(f.validate());
  return f;
}

// SIGTERM/SIGINT are blocked in every thread and taken with sigtimedwait: the wait
// between polls is also the wait for the stop signal, and no handler runs anywhere.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  // Waits up to `d`; false once a stop signal came (now or before).
  bool wait(Millis d) {
    if (stopped_) return false;
    const auto end = opfleet::SteadyClock::now() + d;
    while (true) {
      const auto left = end - opfleet::SteadyClock::now();
      if (left <= opfleet::SteadyClock::duration::zero()) return true;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      const int sig = sigtimedwait(&set_, nullptr, &ts);
      if (sig > 0) {
        stopped_ = true;
        log::info("scaler_stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        return false;
      }
      // EAGAIN: time is up; EINTR: another signal; loop to re-check the clock.
    }
  }
  bool stopped() const { return stopped_; }

 private:
  sigset_t set_{};
  bool stopped_ = false;
};

struct Built {
  std::unique_ptr<store::Connection> db;
  std::optional<sqs::Client> sqs;
  std::unique_ptr<scaler::Actuator> actuator;
  std::unique_ptr<scaler::MetricsSource> metrics;
};

int build(const po::variables_map& vm, StopSignals& stop, Built& b) {
  const std::string url = vm["database-url"].as<std::string>();
  if (!url.empty()) {
    auto opts = store::connection_options_from(vm, "opfleet-scaler");
    if (!opts) {
      fmt::print(stderr, "opfleet scale: {}\n", opts.error().message);
      return kExitConfig;
    }
    b.db = std::make_unique<store::Connection>(*opts);
  }
  auto sqs_cfg = sqs::client_config_from_options(vm);
  if (!sqs_cfg) {
    fmt::print(stderr, "opfleet scale: {}\n", sqs_cfg.error().message);
    return kExitConfig;
  }
  auto sqs = sqs::Client::make(std::move(*sqs_cfg));
  if (!sqs) {
    fmt::print(stderr, "opfleet scale: {}\n", sqs.error().message);
    return kExitConfig;
  }
  b.sqs.emplace(std::move(*sqs));
  const std::string queue = vm["queue-name"].as<std::string>();
  auto queue_url = b.sqs->get_queue_url(queue);
  if (!queue_url) {
    log::error("queue_unavailable", {{"queue", queue}, {"error", queue_url.error().describe()}});
    return queue_url.error().kind == ErrorKind::kNotFound ? kExitConfig : kExitUnavailable;
  }
  b.metrics = std::make_unique<scaler::MetricsSource>(*b.sqs, b.db.get(), *queue_url, queue);

  auto sleep = [&stop](Millis d) { return stop.wait(d); };
  if (vm["actuator"].as<std::string>() == "ecs") {
    auto cfg = ecs::client_config_from_options(vm);
    if (!cfg) {
      fmt::print(stderr, "opfleet scale: {}\n", cfg.error().message);
      return kExitConfig;
    }
    auto client = ecs::Client::make(std::move(*cfg));
    if (!client) {
      fmt::print(stderr, "opfleet scale: {}\n", client.error().message);
      return kExitConfig;
    }
    scaler::EcsActuatorOptions o;
    o.cluster = vm["ecs-cluster"].as<std::string>();
    o.service = vm["ecs-service"].as<std::string>();
    o.sleep = sleep;
    auto a = scaler::EcsActuator::make(std::move(*client), std::move(o));
    if (!a) {
      fmt::print(stderr, "opfleet scale: {}\n", a.error().message);
      return kExitConfig;
    }
    b.actuator = std::make_unique<scaler::EcsActuator>(std::move(*a));
  } else {
    scaler::LocalActuatorOptions o;
    o.instances = config::split_list(vm["local-instances"].as<std::string>());
    o.sleep = sleep;
    auto a = scaler::LocalActuator::make(std::move(o));
    if (!a) {
      fmt::print(stderr, "opfleet scale: {} (--local-instances)\n", a.error().message);
      return kExitUsage;
    }
    b.actuator = std::make_unique<scaler::LocalActuator>(std::move(*a));
  }
  return -1;
}

}  // namespace

int run_scale(int argc, char** argv) {
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(scale_spec(), argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  const bool dry_run = vm["dry-run"].as<bool>();
  if (vm.count("workers")) {
    if (dry_run || vm["run"].as<bool>()) {
      fmt::print(stderr,
                 "opfleet scale: --workers sets one supervisor; it excludes --run and --dry-run\n");
      return kExitUsage;
    }
    return scale_one(vm);
  }
  auto policy = policy_from(vm);
  if (!policy) {
    fmt::print(stderr, "opfleet scale: {}\n", policy.error().message);
    return kExitUsage;
  }
  auto faults = faults_from(vm);
  if (!faults) {
    fmt::print(stderr, "opfleet scale: {}\n", faults.error().message);
    return kExitUsage;
  }

  StopSignals stop;
  Built b;
  if (int rc = build(vm, stop, b); rc >= 0) return rc;

  scaler::EventRecorder recorder(dry_run ? nullptr : b.db.get(), vm["source"].as<std::string>());
  scaler::LoopOptions lo;
  lo.policy = *policy;
  lo.poll_interval = Millis(vm["poll-interval-ms"].as<int>());
  lo.record_samples = vm["record-samples"].as<bool>();

  std::optional<scaler::FaultInjector> injector;
  if (!dry_run && faults->any_enabled()) {
    std::mt19937_64 rng{std::random_device{}()};
    injector.emplace(
        *faults, *b.actuator,
        [rng]() mutable { return std::uniform_real_distribution<double>(0, 1)(rng); },
        [](const std::string& path, std::string_view cmd) {
          return netfault::send_command(path, cmd);
        },
        opfleet::SteadyClock::now());
  }
  scaler::ControlLoop loop(lo, *b.metrics, *b.actuator, recorder, injector ? &*injector : nullptr);

  if (dry_run) {
    auto r = loop.cycle(opfleet::SteadyClock::now(), scaler::Clock::now(), /*act=*/false);
    fmt::print("{}", scaler::describe(lo.policy, b.actuator->name(), r));
    return r.decision ? kExitOk : kExitUnavailable;
  }

  std::unique_ptr<scaler::StatusServer> http;
  if (const auto listen = vm["http-listen"].as<std::string>(); !listen.empty()) {
    auto s = scaler::StatusServer::start(listen, loop, lo.poll_interval * 3 + Millis(10000));
    if (!s) {
      log::error("scaler_http_failed", {{"listen", listen}, {"error", s.error().describe()}});
      return kExitUnavailable;
    }
    http = std::move(*s);
    log::info("http_listening", {{"address", listen}, {"port", http->port()}});
  }
  log::info("scaler_started",
            {{"actuator", b.actuator->name()},
             {"policy", vm["policy"].as<std::string>()},
             {"queue", b.metrics->queue_name()},
             {"min", lo.policy.limits.min},
             {"max", lo.policy.limits.max},
             {"poll_interval_ms", static_cast<std::int64_t>(lo.poll_interval.count())},
             {"fault_kill", faults->kill.enabled},
             {"fault_drain", faults->drain.enabled},
             {"fault_partition", faults->partition.enabled}});
  while (!stop.stopped()) {
    const auto started = opfleet::SteadyClock::now();
    loop.cycle(started, scaler::Clock::now());
    const auto spent = std::chrono::duration_cast<Millis>(opfleet::SteadyClock::now() - started);
    if (!stop.wait(std::max(Millis(0), lo.poll_interval - spent))) break;
  }
  loop.shutdown();
  log::info("scaler_stopped", {{"cycles", loop.snapshot().cycles}});
  return kExitOk;
}

}  // namespace opfleet::cli
