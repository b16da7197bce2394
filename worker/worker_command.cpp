// `opfleet worker`: one worker process. Normally forked by `opfleet supervise`; also
// runnable alone for debugging (then it has no host peers to share claims with).
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <boost/algorithm/string.hpp>

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
#include "worker/shm_host_claims.h"
#include "worker/worker.h"
#include "worker/worker_options.h"

namespace opfleet::cli {

namespace {

config::CommandSpec worker_spec() {
  config::CommandSpec spec;
  spec.name = "worker";
  spec.usage = "opfleet worker [options]";
  spec.summary =
      "Long-polls the task queue and runs ops with exactly-once effects "
      "(see docs/claim-protocol.md). SIGTERM drains (finish in-flight ops "
      "within --drain-timeout-s, hand back the rest); a second SIGTERM or "
      "SIGINT hands back at once; SIGUSR1 pauses receiving, SIGUSR2 resumes.";
  spec.options.add(config::general_options())
      .add(config::database_options(true))
      .add(config::aws_options())
      .add(worker::worker_options());
  // Set by `opfleet supervise` for the workers it starts (docs/supervisor.md). Hidden:
  // flags only, never read from the environment or a file, so a worker started by hand
  // in a shell that has OPFLEET_INSTANCE set still runs standalone.
  // clang-format off
  spec.hidden.add_options()
      ("instance", config::po::value<std::string>()->default_value("", ""),
       "supervisor instance whose shared memory this worker joins")
      ("worker-index", config::po::value<int>()->default_value(-1), "worker slot in the segment")
      ("generation", config::po::value<std::uint64_t>()->default_value(0),
       "start number of the slot, from the supervisor")
      ("supervisor-pid", config::po::value<int>()->default_value(0),
       "pid of the supervisor (the parent)");
  // clang-format on
  return spec;
}

// Supervised mode: the parent-death signal and the parent check come first, before any
// slow start-up work, so a worker whose supervisor is already gone never starts.
// SIGTERM (not SIGKILL) as the parent-death signal: a worker does not need its supervisor
// to drain, and a drain hands every op back with its lease released and its message
// visible again at once, whereas a killed worker's ops wait for lease expiry and the
// visibility timeout (nobody is left to recover them). The worker then exits on its own
// after at most --drain-timeout-s.
Result<std::unique_ptr<worker::ShmHostClaims>> join_supervisor(
    const config::po::variables_map& vm) {
  const std::string instance = vm["instance"].as<std::string>();
  const int index = vm["worker-index"].as<int>();
  const int supervisor_pid = vm["supervisor-pid"].as<int>();
  if (index < 0) return fail(Error::invalid("--instance needs --worker-index"));
  if (supervisor_pid <= 0) return fail(Error::invalid("--instance needs --supervisor-pid"));
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    return fail(Error::internal(fmt::format("prctl(PR_SET_PDEATHSIG): {}", std::strerror(errno))));
  }
  // The supervisor may have died before the prctl above took effect: then no signal
  // will ever come, and the parent is now someone else (init or a subreaper).
  if (getppid() != supervisor_pid) {
    return fail(Error::make(
        ErrorKind::kUnavailable,
        fmt::format("supervisor pid {} is gone (parent is now {})", supervisor_pid, getppid())));
  }
  OPFLEET_TRY(auto host, worker::ShmHostClaims::attach(instance, static_cast<std::uint32_t>(index),
                                                       vm["generation"].as<std::uint64_t>()));
  if (host->supervisor_pid() != supervisor_pid) {
    return fail(Error::invalid(fmt::format("instance '{}' belongs to supervisor pid {}, not {}",
                                           instance, host->supervisor_pid(), supervisor_pid)));
  }
  return host;
}

// Next to run_worker so the linker keeps it (see Registration in config/config.h).
const config::Registration kWorkerSpec(&worker_spec);

}  // namespace

int run_worker(int argc, char** argv) {
  const config::CommandSpec spec = worker_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;

  std::unique_ptr<worker::ShmHostClaims> supervised;
  if (!vm["instance"].as<std::string>().empty()) {
    auto joined = join_supervisor(vm);
    if (!joined) {
      log::error("cannot_join_supervisor", {{"instance", vm["instance"].as<std::string>()},
                                            {"error", joined.error().describe()}});
      // A layout mismatch is a deployment error: kExitConfig tells the supervisor (and
      // systemd) that restarting will not help. An orphaned worker just leaves.
      return joined.error().kind == ErrorKind::kUnavailable ? kExitFailure : kExitConfig;
    }
    supervised = std::move(*joined);
  }

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
    log::error("queue_unavailable", {{"queue", queue_name},
                                     {"error", queue_url.error().describe()},
                                     {"hint", "run `opfleet provision` first"}});
    return queue_url.error().kind == ErrorKind::kNotFound ? kExitConfig : kExitUnavailable;
  }
  wcfg->queue_url = *queue_url;
  std::string dlq_name = vm["dlq-name"].as<std::string>();
  if (dlq_name.empty()) dlq_name = sqs::default_dlq_name(queue_name);
  if (auto dlq = client->get_queue_url(dlq_name)) {
    wcfg->dlq_url = *dlq;
  } else {
    log::warn("dlq_not_found",
              {{"dlq", dlq_name}, {"then", "poison messages are left to the redrive policy"}});
  }

  worker::StandaloneHostClaims standalone;
  worker::HostClaims& host = supervised ? static_cast<worker::HostClaims&>(*supervised)
                                        : static_cast<worker::HostClaims&>(standalone);
  const int slots = wcfg->slots;
  worker::Worker w(std::move(*wcfg), std::move(*db), std::move(*sqs_cfg), host);
  if (supervised) {
    // Attached first, then the pause flag (both seq_cst; the supervisor publishes the
    // flag, then signals attached workers): a pause that races with this start is seen
    // here, or arrives as SIGUSR1 (blocked above, so it waits for the signal thread).
    supervised->mark_running(static_cast<std::uint32_t>(slots));
    if (!supervised->receiving()) w.set_receiving(false);
  }

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
          log::info("signal",
                    {{"signal", "SIGTERM"}, {"action", terms == 1 ? "drain" : "hand back now"}});
          if (supervised) supervised->mark_draining();
          w.stop(terms > 1);
          break;
        case SIGINT:
          log::info("signal", {{"signal", "SIGINT"}, {"action", "hand back now"}});
          if (supervised) supervised->mark_draining();
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
