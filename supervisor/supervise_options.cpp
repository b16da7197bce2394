#include "supervisor/supervise_options.h"

#include <algorithm>

#include <fmt/format.h>

#include "config/secrets.h"
#include "config/validate.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "sqs/client_config.h"
#include "store/connection_config.h"
#include "worker/worker_options.h"

namespace opfleet::supervisor {

namespace po = boost::program_options;

// clang-format off
config::CommandSpec supervise_spec() {
  config::CommandSpec spec;
  spec.name = "supervise";
  spec.usage = "opfleet supervise --instance NAME [--workers N] [--slots M] [options]";
  spec.summary =
      "Runs N `opfleet worker` processes sharing one shared-memory segment: restarts them "
      "with backoff, hands a dead worker's ops back at once, kills hung workers, and answers "
      "signals (TERM drain and exit, INT hand back now, HUP reload, USR1 pause, USR2 resume, "
      "TTIN/TTOU one worker more/less) and `opfleet drain/resume/status/scale`. "
      "systemd Type=notify. See docs/supervisor.md.";
  po::options_description own("supervisor options");
  own.add_options()
      ("instance", config::checked<std::string>([](const std::string& v) {
         return shm::valid_instance_name(v) ? std::string()
                                            : std::string("1-64 of [A-Za-z0-9_.-]");
       })->value_name("NAME")->required(),
       "instance name: names the shared-memory segment (/dev/shm/opfleet-NAME) that "
       "`opfleet status/drain/scale --instance NAME` find")
      ("workers", config::in_range<int>(0, static_cast<int>(shm::kMaxWorkers))
                      ->value_name("N")->default_value(2),
       "worker processes to run")
      ("hung-timeout-s", config::positive_int()->value_name("S")->default_value(60),
       "a worker whose loop has not beaten for this long (or not started within it) is "
       "terminated and replaced")
      ("kill-grace-s", config::positive_int()->value_name("S")->default_value(5),
       "SIGKILL a terminated hung worker (or one told to hand back now) after this long")
      ("restart-backoff-base-ms", config::positive_int()->value_name("MS")->default_value(200),
       "a crashed worker restarts at once, then after base, 2*base, 4*base...")
      ("restart-backoff-cap-ms", config::positive_int()->value_name("MS")->default_value(30000),
       "the longest wait before restarting a crashed worker")
      ("crash-loop-max", config::positive_int()->value_name("N")->default_value(5),
       "more crashes than this within --crash-loop-window-s hold the slot back")
      ("crash-loop-window-s", config::positive_int()->value_name("S")->default_value(60),
       "window of the crash-loop count")
      ("crash-loop-hold-s", config::positive_int()->value_name("S")->default_value(60),
       "how long a crash-looping slot is held back before it is tried again")
      ("http-listen", po::value<std::string>()->value_name("HOST:PORT")->default_value("", ""),
       "serve /healthz and /metrics here, e.g. 127.0.0.1:9187 (port 0: a free port, logged); "
       "empty = off")
      ("ecs-protection-minutes", config::in_range<int>(1, 2880)->value_name("MIN")->default_value(10),
       "with $ECS_AGENT_URI: task scale-in protection lifetime while ops are in flight");
  spec.options.add(config::general_options())
      .add(own)
      .add(config::database_options(true))
      .add(config::aws_options())
      .add(worker::worker_options());
  return spec;
}
// clang-format on

void worker_passthrough(const config::Parsed& parsed, std::vector<std::string>* flags,
                        std::vector<std::string>* env) {
  auto worker = config::find_registered("worker");
  if (!worker) return;
  for (const std::string& name : config::settable_options(*worker)) {
    // The supervisor names each worker itself.
    if (name == "worker-id") continue;
    auto it = parsed.origins.find(name);
    if (it == parsed.origins.end() || it->second.source == config::Source::kDefault) continue;
    if (it->second.tokens.empty()) continue;
    const std::string& value = it->second.tokens.back();
    // Command lines are world-readable (/proc/PID/cmdline), environments are not.
    if (name == "database-url" || config::is_secret_key(name)) {
      env->push_back(fmt::format("{}={}", config::env_name(name), value));
    } else {
      flags->push_back(fmt::format("--{}={}", name, value));
    }
  }
}

Result<SupervisorConfig> supervisor_config_from(const config::Parsed& parsed) {
  const auto& vm = parsed.vm;
  SupervisorConfig c;
  c.instance = vm["instance"].as<std::string>();
  c.workers = vm["workers"].as<int>();
  OPFLEET_TRY(auto wcfg, worker::worker_config_from(vm));
  c.worker_slots = wcfg.slots;
  c.drain_timeout = std::chrono::duration_cast<Duration>(wcfg.drain_timeout);

  RestartPolicy& r = c.restart;
  r.backoff_base = Duration(vm["restart-backoff-base-ms"].as<int>());
  r.backoff_cap = Duration(vm["restart-backoff-cap-ms"].as<int>());
  if (r.backoff_cap < r.backoff_base) {
    return fail(
        Error::invalid("--restart-backoff-cap-ms must be at least --restart-backoff-base-ms"));
  }
  r.crash_loop_max = vm["crash-loop-max"].as<int>();
  r.crash_loop_window = std::chrono::seconds(vm["crash-loop-window-s"].as<int>());
  r.hold_back = std::chrono::seconds(vm["crash-loop-hold-s"].as<int>());
  r.hung_after = std::chrono::seconds(vm["hung-timeout-s"].as<int>());
  r.kill_grace = std::chrono::seconds(vm["kill-grace-s"].as<int>());
  // A draining worker stops its ops at its own drain deadline; the supervisor waits that
  // long plus the time to hand back and exit before it uses SIGKILL.
  r.drain_kill_after = c.drain_timeout + r.kill_grace + std::chrono::seconds(5);

  c.http_listen = vm["http-listen"].as<std::string>();
  c.protection.expires_minutes = vm["ecs-protection-minutes"].as<int>();

  worker_passthrough(parsed, &c.worker_flags, &c.worker_env);

  OPFLEET_TRY(c.db, store::connection_options_from(vm, "opfleet-supervisor"));
  // Recovery runs on the supervisor's loop: it must fail fast rather than stall the loop
  // (what it cannot hand back falls back to lease expiry).
  c.db.connect_timeout = std::min(c.db.connect_timeout, std::chrono::seconds(2));
  c.db.statement_timeout = Millis(5000);
  c.db.client_grace = Millis(1000);
  c.db.reconnect = BackoffPolicy{Millis(50), Millis(500), 2};
  c.db.breaker = BreakerPolicy{3, Millis(5000)};
  OPFLEET_TRY(c.sqs, sqs::client_config_from_options(vm));
  c.sqs.name = "sqs-recovery";
  c.sqs.backoff = BackoffPolicy{Millis(50), Millis(500), 3};
  c.sqs.http.connect_timeout = Millis(2000);
  c.sqs.http.timeout = Millis(5000);
  c.queue_name = vm["queue-name"].as<std::string>();
  return c;
}

}  // namespace opfleet::supervisor
