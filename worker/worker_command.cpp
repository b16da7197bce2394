// `opfleet worker`: one worker process. Normally forked by `opfleet supervise`; also
// runnable alone for debugging (then it has no host peers to share claims with).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/algorithm/string.hpp>
#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "config/validate.h"
#include "sqs/client.h"
#include "sqs/client_config.h"
#include "sqs/provision.h"
#include "store/connection_config.h"
#include "worker/host_claims.h"
#include "worker/worker.h"
#include "worker/worker_options.h"

namespace opfleet::cli {

namespace {

config::CommandSpec worker_spec() {
  config::CommandSpec spec;
  spec.name = "worker";
  spec.usage = "opfleet worker [options]";
  spec.summary = "Long-polls the task queue and runs ops with exactly-once effects "
                           "(see docs/claim-protocol.md). SIGTERM drains (finish in-flight ops "
                           "within --drain-timeout-s, hand back the rest); a second SIGTERM or "
                           "SIGINT hands back at once; SIGUSR1 pauses receiving, SIGUSR2 resumes.";
  spec.options.add(config::general_options())
      .add(config::database_options(true))
      .add(config::aws_options())
      .add(worker::worker_options());
  return spec;
}

// Next to run_worker so the linker keeps it (see Registration in config/config.h).
const config::Registration kWorkerSpec(&worker_spec);

}  // namespace

int run_worker(int argc, char** argv) {
  const config::CommandSpec spec = worker_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;

  auto db = store::connection_options_from(vm, "opfleet-worker");
  if (!db) {
    log::error("bad_config", {{"error", db.error().message}});
    return kExitConfig;
  }
  auto sqs_cfg = sqs::client_config_from_options(vm);
  if (!sqs_cfg) {
    log::error("bad_config", {{"error", sqs_cfg.error().message}});
    return kExitConfig;
  }
  auto wcfg = worker::worker_config_from(vm);
  if (!wcfg) {
    log::error("bad_config", {{"error", wcfg.error().message}});
    return kExitConfig;
  }

  // Signals are handled by one thread with sigwait; every other thread (created after
  // this point) inherits the blocked mask, so no handler ever runs on a worker thread.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // Resolve the queue URLs (requests still go to the configured endpoint).
  auto client = sqs::Client::make(*sqs_cfg);
  if (!client) {
    log::error("bad_config", {{"error", client.error().message}});
    return kExitConfig;
  }
  std::string queue_name = vm["queue-name"].as<std::string>();
  auto queue_url = client->get_queue_url(queue_name);
  if (!queue_url) {
    log::error("queue_unavailable", {{"queue", queue_name}, {"error", queue_url.error().describe()},
                                     {"hint", "run `opfleet provision` first"}});
    return queue_url.error().kind == ErrorKind::kNotFound ? kExitConfig : kExitUnavailable;
  }
  wcfg->queue_url = *queue_url;
  std::string dlq_name = vm["dlq-name"].as<std::string>();
  if (dlq_name.empty()) dlq_name = sqs::default_dlq_name(queue_name);
  if (auto dlq = client->get_queue_url(dlq_name)) {
    wcfg->dlq_url = *dlq;
  } else {
    log::warn("dlq_not_found", {{"dlq", dlq_name},
                                {"then", "poison messages are left to the redrive policy"}});
  }

  worker::StandaloneHostClaims host;
  worker::Worker w(std::move(*wcfg), std::move(*db), std::move(*sqs_cfg), host);

  std::atomic<bool> finished{false};
  std::thread signals([&] {
    int terms = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (finished.load()) return;
      switch (sig) {
        case SIGTERM:
          ++terms;
          log::info("signal", {{"signal", "SIGTERM"}, {"action", terms == 1 ? "drain" : "hand back now"}});
          w.stop(terms > 1);
          break;
        case SIGINT:
          log::info("signal", {{"signal", "SIGINT"}, {"action", "hand back now"}});
          w.stop(true);
          break;
        case SIGUSR1:
          log::info("signal", {{"signal", "SIGUSR1"}, {"action", "pause receiving"}});
          w.set_receiving(false);
          break;
        case SIGUSR2:
          log::info("signal", {{"signal", "SIGUSR2"}, {"action", "resume receiving"}});
          w.set_receiving(true);
          break;
        default:
          break;  // SIGHUP: nothing to reload in a worker (the supervisor restarts it)
      }
    }
  });
  auto st = w.run();
  finished = true;
  pthread_kill(signals.native_handle(), SIGUSR2);
  signals.join();
  if (!st) {
    log::error("worker_failed", {{"error", st.error().describe()}});
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace opfleet::cli
