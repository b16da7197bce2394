// `opfleet schedule`: submits a run of each scheduled job at every tick of its cron
// schedule, each tick recorded once in PostgreSQL (docs/scheduler.md).

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "common/stop_signals.h"
#include "config/config.h"
#include "config/validate.h"
#include "jobs/registry.h"
#include "scheduler/catch_up.h"
#include "scheduler/scaled_clock.h"
#include "scheduler/scheduler.h"
#include "sqs/client.h"
#include "sqs/client_config.h"
#include "sqs/queue_gate.h"
#include "store/connection_config.h"
#include "store/schema_gate.h"
#include "worker/submit.h"

namespace opfleet::cli {
namespace {

namespace po = boost::program_options;

config::CommandSpec schedule_spec() {
  config::CommandSpec spec;
  spec.name = "schedule";
  spec.usage =
      "opfleet schedule [--jobs-file F] [--job J]... [--time-scale X] "
      "[--catch-up latest|all|none] [--once] [options]";
  spec.summary =
      "Submits a run of every scheduled job at each tick of its cron schedule (UTC). Each "
      "tick is recorded once in PostgreSQL together with its run, so several schedulers "
      "can run at once without submitting a tick twice. After downtime, --catch-up decides "
      "which missed ticks are submitted. SIGTERM or SIGINT stops it. See docs/scheduler.md.";
  spec.options.add(config::general_options())
      .add(config::database_options(true))
      .add(config::aws_options());
  // One option per entry reads better than the formatter's layout.
  // clang-format off
  spec.options.add_options()
      ("jobs-file", po::value<std::string>()->value_name("PATH")->default_value("", ""),
       "a job definition file, or a directory of *.json files, added to the built-in jobs "
       "(docs/jobs.md)")
      ("job", po::value<std::vector<std::string>>()->value_name("J")->composing(),
       "schedule only this job (repeatable; default: every job with a schedule)")
      ("time-scale", config::in_range<double>(1e-6, 1000.0)->value_name("X")->default_value(1.0),
       "run the schedule clock 1/X times as fast as the wall clock (0.01: a */10 schedule "
       "ticks every 6 s) and submit runs with this time scale")
      ("time-anchor", po::value<std::string>()->value_name("UTC")->default_value("", ""),
       "with --time-scale: the instant at which schedule time equals wall time (e.g. "
       "2030-01-01T00:00:00Z; default: when the scheduler starts); schedulers sharing a "
       "scaled timeline must share it")
      ("catch-up", config::one_of({"latest", "all", "none"})->value_name("P")
                       ->default_value("latest"),
       "missed ticks after downtime: latest (the most recent one), all (every one, up to "
       "--catch-up-limit), none")
      ("catch-up-limit", config::positive_int()->value_name("N")->default_value(100),
       "at most N ticks per schedule submitted in one pass (the newest)")
      ("misfire-grace", config::duration()->value_name("D")->default_value(
                            std::chrono::milliseconds(60000), "60s"),
       "a tick submitted within this wall time of its due time is on time; older ones "
       "are missed and follow --catch-up")
      ("tag", po::value<std::vector<std::string>>()->value_name("K=V")->composing(),
       "a tag on every submitted run (repeatable)")
      ("once", po::bool_switch(), "run one pass (catch up, submit what is due) and exit");
  // clang-format on
  return spec;
}

// Next to run_schedule so the linker keeps it (see Registration in config/config.h).
const config::Registration kScheduleSpec(&schedule_spec);

template <class T>
std::vector<T> list_option(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 ? vm[name].as<std::vector<T>>() : std::vector<T>{};
}

}  // namespace

int run_schedule(int argc, char** argv) {
  const auto spec = schedule_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto usage_error = [](std::string_view what) {
    fmt::print(stderr, "opfleet schedule: {}\n", what);
    return kExitUsage;
  };

  auto registry = jobs::load_registry(vm["jobs-file"].as<std::string>());
  if (!registry) return usage_error(registry.error().message);
  const double time_scale = vm["time-scale"].as<double>();
  auto schedules =
      scheduler::load_schedules(*registry, list_option<std::string>(vm, "job"), time_scale);
  if (!schedules) return usage_error(schedules.error().message);
  if (schedules->empty()) return usage_error("no job has a schedule");

  scheduler::SchedulerOptions options;
  options.catch_up = *scheduler::parse_catch_up(vm["catch-up"].as<std::string>());
  options.catch_up_limit = static_cast<std::size_t>(vm["catch-up-limit"].as<int>());
  options.misfire_grace = vm["misfire-grace"].as<std::chrono::milliseconds>();
  for (const auto& t : list_option<std::string>(vm, "tag")) {
    auto kv = worker::parse_tag(t);
    if (!kv) return usage_error(fmt::format("--tag: {}", kv.error().message));
    options.tags[kv->first] = kv->second;
  }

  scheduler::ScaledClock clock{scheduler::wall_now(), time_scale};
  if (const auto& text = vm["time-anchor"].as<std::string>(); !text.empty()) {
    auto t = scheduler::parse_utc(text);
    if (!t) return usage_error(fmt::format("--time-anchor: {}", t.error().message));
    clock.anchor = *t;
  }
  {
    // Keep schedule time within a few centuries of now, far from the limits of the 64-bit
    // microsecond clock and of PostgreSQL's timestamptz.
    const double elapsed_s =
        std::abs(static_cast<double>((scheduler::wall_now() - clock.anchor).count())) / 1e6;
    if (elapsed_s / time_scale > 100.0 * 365 * 86400) {
      return usage_error(
          "--time-anchor is so far from now that, at this --time-scale, the "
          "schedule clock would be centuries away");
    }
  }

  auto db_options = store::connection_options_from(vm, "opfleet-schedule");
  if (!db_options) return usage_error(db_options.error().message);
  auto db = store::connect(std::move(*db_options));
  if (!db) {
    log::error("database_unavailable", {{"error", db.error().describe()}});
    return kExitUnavailable;
  }
  // Refuse an unmigrated database up front instead of failing every tick.
  if (int rc = store::require_migrated(**db); rc != kExitOk) return rc;

  auto sqs_cfg = sqs::client_config_from_options(vm);
  if (!sqs_cfg) return usage_error(sqs_cfg.error().message);
  auto client = sqs::Client::make(*sqs_cfg);
  if (!client) return usage_error(client.error().message);
  std::string queue_url;
  if (int rc = sqs::require_queue(*client, vm["queue-name"].as<std::string>(), &queue_url);
      rc != kExitOk) {
    return rc;
  }

  const bool once = vm["once"].as<bool>();
  log::info("scheduler_started",
            {{"schedules", static_cast<std::int64_t>(schedules->size())},
             {"time_scale", time_scale},
             {"time_anchor", scheduler::format_utc(clock.anchor)},
             {"time_anchor_us", static_cast<std::int64_t>(clock.anchor.time_since_epoch().count())},
             {"schedule_now", scheduler::format_utc(clock.to_schedule(scheduler::wall_now()))},
             {"catch_up", scheduler::to_string(options.catch_up)},
             {"misfire_grace_ms", static_cast<std::int64_t>(options.misfire_grace.count())},
             {"once", once}});
  for (const auto& s : *schedules) {
    log::info("schedule_loaded",
              {{"schedule", s.name}, {"job", s.job.name}, {"cron", s.cron.text()}});
  }

  scheduler::Scheduler sched(**db, std::move(*schedules), clock, std::move(options),
                             scheduler::Sender{&*client, queue_url});
  if (once) {
    auto pass = sched.run_pass();
    if (!pass) {
      log::error("schedule_pass_failed", {{"error", pass.error().describe()}});
      return kExitFailure;
    }
    for (const auto& f : pass->failures) {
      log::error("tick_failed", {{"schedule", f.schedule},
                                 {"tick_at", scheduler::format_utc(f.tick_at)},
                                 {"error", f.error.describe()}});
    }
    log::info("schedule_pass", {{"submitted", pass->submitted},
                                {"already_recorded", pass->already_recorded},
                                {"skipped", pass->skipped},
                                {"failed", static_cast<std::int64_t>(pass->failures.size())}});
    return pass->failures.empty() ? kExitOk : kExitFailure;
  }

  scheduler::StopFlag stop;
  {
    StopSignals signals([&](int) { stop.request(); });
    sched.run(stop);
  }
  log::info("scheduler_stopped");
  return kExitOk;
}

}  // namespace opfleet::cli
