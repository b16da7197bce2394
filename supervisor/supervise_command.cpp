// `opfleet supervise` (see supervisor/supervisor.h and docs/supervisor.md).
#include <signal.h>

#include <string>
#include <vector>

#include "aws/http.h"
#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "supervisor/sd_notify.h"
#include "supervisor/supervise_options.h"
#include "supervisor/supervisor.h"

namespace opfleet::cli {

namespace {

// Next to run_supervise so the linker keeps it (see Registration in config/config.h).
const config::Registration kSuperviseSpec(&supervisor::supervise_spec);

}  // namespace

int run_supervise(int argc, char** argv) {
  // Block the supervisor's signals before anything else: until the signalfd exists they
  // stay pending (a SIGTERM during start-up still drains instead of killing us), and no
  // thread a library may start later can receive them. The mask from before goes to the
  // workers.
  sigset_t signals = supervisor::supervisor_signals();
  sigset_t original;
  sigprocmask(SIG_BLOCK, &signals, &original);
  aws::http_global_init();  // before any thread exists (libcurl's rule)

  const config::CommandSpec spec = supervisor::supervise_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  auto cfg = supervisor::supervisor_config_from(parsed);
  if (!cfg) {
    log::error("bad_config", {{"error", cfg.error().message}});
    return kExitConfig;
  }
  // SIGHUP re-reads flags, environment and file through the same parse as start-up.
  std::vector<std::string> args(argv + 1, argv + argc);
  auto reload = [args]() -> Result<supervisor::SupervisorConfig> {
    OPFLEET_TRY(auto again,
                config::parse(supervisor::supervise_spec(), args, config::ParseOptions{}));
    return supervisor::supervisor_config_from(again);
  };
  supervisor::Supervisor s(std::move(*cfg), std::move(reload),
                           supervisor::Notifier::from_environment(), original);
  return s.run();
}

}  // namespace opfleet::cli
