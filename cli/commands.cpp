#include <array>

#include "cli/command.h"
#include "cli/subcommands.h"

namespace opfleet::cli {

std::span<const Command> commands() {
  static const std::array kCommands = {
      Command{"version", "print the version", &run_version},
      Command{"config", "show the effective configuration and where each value comes from",
              &run_config},
      Command{"provision", "create the task queue and its DLQ (idempotent)", &run_provision},
      Command{"migrate", "apply the database schema migrations (idempotent)", &run_migrate},
      Command{"worker", "run one worker: long-poll the queue, run ops exactly once", &run_worker},
      Command{"submit", "submit a run of a job (and optionally wait for it)", &run_submit},
      Command{"runs", "list recent runs", &run_runs},
      Command{"run", "show one run: steps, attempts, errors", &run_run},
      Command{"netfault", "TCP proxy that injects network faults on command (tests, chaos)",
              &run_netfault},
      Command{"supervise", "run N workers: restart, crash recovery, signals, sd_notify, /metrics",
              &run_supervise},
      Command{"status", "show a supervisor's workers, in-flight ops and counters", &run_status},
      Command{"drain", "stop a supervisor's workers taking messages (--exit: and stop it)",
              &run_drain},
      Command{"resume", "let a drained supervisor's workers take messages again", &run_resume},
      Command{"scale", "scale workers: the control loop, --dry-run, or one supervisor (--workers)",
              &run_scale},
      Command{"schedule", "submit runs of scheduled jobs at their cron ticks, each tick once",
              &run_schedule},
      Command{"audit", "check exactly-once from PostgreSQL: duplicates, overlaps, lost, stuck",
              &run_audit},
      Command{"loadsim", "play a load scenario with real faults; report latency, throughput, audit",
              &run_loadsim},
      Command{"ui", "serve the read-only web dashboard: runs, fleet, queue, scaling, schedules",
              &run_ui},
  };
  return kCommands;
}

}  // namespace opfleet::cli
