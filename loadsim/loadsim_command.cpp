// `opfleet loadsim`: plays a load scenario against the running fleet, injects its faults,
// waits for the runs, and reports (docs/loadsim.md).
#include <unistd.h>

#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "common/stop_signals.h"
#include "config/config.h"
#include "config/validate.h"
#include "jobs/registry.h"
#include "loadsim/simulator.h"
#include "netfault/control.h"
#include "scaler/local_actuator.h"
#include "sqs/client_config.h"
#include "sqs/queue_gate.h"
#include "store/connection_config.h"
#include "store/schema_gate.h"

namespace opfleet::cli {
namespace {

namespace po = boost::program_options;

config::CommandSpec loadsim_spec() {
  config::CommandSpec spec;
  spec.name = "loadsim";
  spec.usage =
      "opfleet loadsim [--scenario NAME | --scenario-file FILE] [--duration D] [--rate X]\n"
      "                [--mix JOB=SHARE,...] [--time-scale X] [--report FILE] [options]";
  spec.summary =
      "Submits runs in a scenario's pattern (steady, burst, mixed, worker-failure, "
      "network-partition, or a scenario file) to the running fleet, concurrently; injects "
      "the scenario's faults for real (SIGKILL of busy workers through the supervisors, "
      "network partitions through `opfleet netfault` proxies); waits for every run; prints "
      "latency percentiles, throughput, workers and faults over time and the exactly-once "
      "audit; writes the report as JSON, CSV and an SVG chart. Exits 1 unless every run "
      "finished and the audit is clean.";
  spec.options.add(config::general_options())
      .add(config::database_options(true))
      .add(config::aws_options());
  po::options_description scenario("scenario (flags override the scenario's fields)");
  scenario.add_options()(
      "scenario",
      config::one_of(loadsim::builtin_names())->value_name("NAME")->default_value("steady"),
      "a built-in scenario")("scenario-file",
                             po::value<std::string>()->value_name("FILE")->default_value("", ""),
                             "a JSON scenario (docs/loadsim.md); replaces --scenario")(
      "jobs-file", po::value<std::string>()->value_name("PATH")->default_value("", ""),
      "job definitions added to the built-in jobs (docs/jobs.md)")(
      "duration", config::duration(std::chrono::milliseconds(1))->value_name("D"),
      "how long to submit (default 1m)")("rate",
                                         config::in_range<double>(1e-6, 100000.0)->value_name("X"),
                                         "runs per second outside bursts (default 1)")(
      "mix", po::value<std::string>()->value_name("JOB=SHARE,..."),
      "the jobs submitted and their shares, e.g. fast_job=0.7,slow_job=0.2,mixed_job=0.1")(
      "time-scale", config::in_range<double>(1e-6, 1000.0)->value_name("X"),
      "multiplies every op duration (0.01: a 20 s op sleeps 0.2 s)")(
      "arrivals", config::one_of({"uniform", "poisson"})->value_name("KIND"),
      "evenly spaced submissions, or Poisson arrivals")(
      "seed", po::value<std::uint64_t>()->value_name("N"), "seed of the Poisson arrivals")(
      "kill-every", config::duration(std::chrono::milliseconds(100))->value_name("D"),
      "SIGKILL busy workers this often while submitting")(
      "kill-start", config::duration()->value_name("D"),
      "the first periodic kill (default: one interval in)")(
      "kill-at", po::value<std::string>()->value_name("T,T,..."),
      "SIGKILL busy workers at these times")(
      "kill-count", config::in_range<int>(1, 1000)->value_name("N"), "workers killed each time")(
      "partition", po::value<std::vector<std::string>>()->value_name("AT+LEN[:T[:M]]")->composing(),
      "cut the workers off for a window: T sqs|pg|both, M blackhole|reject "
      "(repeatable; replaces the scenario's partitions), e.g. 20s+10s:sqs");
  po::options_description fleet("the fleet under load");
  fleet.add_options()(
      "instances", po::value<std::string>()->value_name("A,B")->default_value("", ""),
      "the local supervisors (`opfleet supervise --instance`): worker kills and workers over "
      "time; without it, workers are read from the supervisors' heartbeats")(
      "sqs-control", po::value<std::string>()->value_name("PATH")->default_value("", ""),
      "control socket of the netfault proxy the workers reach SQS through")(
      "pg-control", po::value<std::string>()->value_name("PATH")->default_value("", ""),
      "control socket of the netfault proxy the workers reach PostgreSQL through");
  po::options_description run("the simulation");
  run.add_options()("id", po::value<std::string>()->value_name("ID")->default_value("", ""),
                    "the value of the loadsim tag on every run (default: time and random)")(
      "tag", po::value<std::vector<std::string>>()->value_name("K=V")->composing(),
      "another tag on every run (repeatable)")(
      "submitters", config::in_range<int>(1, 64)->value_name("N")->default_value(4),
      "concurrent submitting sessions")("sample-interval",
                                        config::duration(std::chrono::milliseconds(50))
                                            ->value_name("D")
                                            ->default_value(std::chrono::milliseconds(1000), "1s"),
                                        "how often the fleet is sampled for the time series")(
      "settle-timeout",
      config::duration(std::chrono::milliseconds(1))
          ->value_name("D")
          ->default_value(std::chrono::milliseconds(300000), "5m"),
      "after the submissions and faults, how long to wait for the runs to finish")(
      "report", po::value<std::string>()->value_name("FILE")->default_value("", ""),
      "write the report to FILE (JSON) and beside it FILE.csv and FILE.svg")(
      "json", po::bool_switch(), "print the JSON report instead of the summary");
  spec.options.add(scenario).add(fleet).add(run);
  return spec;
}

const config::Registration kLoadsimSpec(&loadsim_spec);

// The flags given explicitly (not the defaults) become overrides; kInvalid names the flag.
Result<loadsim::Overrides> overrides_from(const po::variables_map& vm) {
  using Ms = std::chrono::milliseconds;
  loadsim::Overrides o;
  const auto given = [&](const char* name) { return vm.count(name) != 0 && !vm[name].defaulted(); };
  const auto named = [](const char* flag, const Error& e) {
    return fail(Error::invalid(fmt::format("--{}: {}", flag, e.message)));
  };
  if (given("duration")) o.duration = vm["duration"].as<Ms>();
  if (given("rate")) o.rate = vm["rate"].as<double>();
  if (given("mix")) {
    auto mix = loadsim::parse_mix(vm["mix"].as<std::string>());
    if (!mix) return named("mix", mix.error());
    o.mix = std::move(*mix);
  }
  if (given("time-scale")) o.time_scale = vm["time-scale"].as<double>();
  if (given("arrivals")) {
    o.arrivals = vm["arrivals"].as<std::string>() == "poisson" ? loadsim::Arrivals::kPoisson
                                                               : loadsim::Arrivals::kUniform;
  }
  if (given("seed")) o.seed = vm["seed"].as<std::uint64_t>();
  if (given("kill-every")) o.kill_every = vm["kill-every"].as<Ms>();
  if (given("kill-start")) o.kill_start = vm["kill-start"].as<Ms>();
  if (given("kill-count")) o.kill_count = vm["kill-count"].as<int>();
  if (given("kill-at")) {
    auto t = loadsim::parse_times(vm["kill-at"].as<std::string>());
    if (!t) return named("kill-at", t.error());
    o.kill_at = std::move(*t);
  }
  if (given("partition")) {
    for (const auto& text : vm["partition"].as<std::vector<std::string>>()) {
      auto w = loadsim::parse_partition(text);
      if (!w) return named("partition", w.error());
      o.partitions.push_back(std::move(*w));
    }
  }
  return o;
}

Result<loadsim::Scenario> scenario_from(const po::variables_map& vm, const loadsim::Overrides& o) {
  const auto& file = vm["scenario-file"].as<std::string>();
  if (file.empty()) return loadsim::make_scenario(vm["scenario"].as<std::string>(), o);
  std::ifstream in(file);
  if (!in) return fail(Error::invalid(fmt::format("--scenario-file: cannot read {}", file)));
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return fail(Error::invalid(fmt::format("--scenario-file: {} is not valid JSON", file)));
  }
  return loadsim::make_scenario(json, file, o);
}

std::string default_id() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::random_device rd;
  return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rd() & 0xffffU);
}

}  // namespace

int run_loadsim(int argc, char** argv) {
  const auto spec = loadsim_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto usage_error = [](std::string_view what) {
    fmt::print(stderr, "opfleet loadsim: {}\n", what);
    return kExitUsage;
  };

  auto overrides = overrides_from(vm);
  if (!overrides) return usage_error(overrides.error().message);
  auto scenario = scenario_from(vm, *overrides);
  if (!scenario) return usage_error(scenario.error().message);
  auto registry = jobs::load_registry(vm["jobs-file"].as<std::string>());
  if (!registry) return usage_error(registry.error().message);

  loadsim::SimulationOptions options;
  options.scenario = *scenario;
  options.registry = &*registry;
  options.id = vm["id"].as<std::string>().empty() ? default_id() : vm["id"].as<std::string>();
  if (auto tag = worker::parse_tag("loadsim=" + options.id); !tag) {
    return usage_error(fmt::format("--id: {}", tag.error().message));
  }
  if (vm.count("tag") != 0) {
    for (const auto& t : vm["tag"].as<std::vector<std::string>>()) {
      auto kv = worker::parse_tag(t);
      if (!kv) return usage_error(fmt::format("--tag: {}", kv.error().message));
      options.extra_tags[kv->first] = kv->second;
    }
  }
  options.submitters = vm["submitters"].as<int>();
  options.sample_interval = vm["sample-interval"].as<std::chrono::milliseconds>();
  options.settle_timeout = vm["settle-timeout"].as<std::chrono::milliseconds>();

  auto sqs_cfg = sqs::client_config_from_options(vm);
  if (!sqs_cfg) return usage_error(sqs_cfg.error().message);
  auto db_options = store::connection_options_from(vm, "opfleet-loadsim");
  if (!db_options) return usage_error(db_options.error().message);

  std::optional<scaler::LocalActuator> actuator;
  if (const auto instances = config::split_list(vm["instances"].as<std::string>());
      !instances.empty()) {
    scaler::LocalActuatorOptions lo;
    lo.instances = instances;
    auto a = scaler::LocalActuator::make(std::move(lo));
    if (!a) return usage_error(fmt::format("--instances: {}", a.error().message));
    actuator.emplace(std::move(*a));
  }

  loadsim::FleetAccess fleet;
  fleet.connect_db = [opts = *db_options]() { return store::connect(opts); };
  fleet.make_sqs = [cfg = *sqs_cfg]() { return sqs::Client::make(cfg); };
  fleet.actuator = actuator ? &*actuator : nullptr;
  fleet.netfault = [](const std::string& path, std::string_view cmd) {
    return netfault::send_command(path, cmd);
  };
  fleet.sqs_control = vm["sqs-control"].as<std::string>();
  fleet.pg_control = vm["pg-control"].as<std::string>();

  // Fail before the first submission on what would only fail later.
  {
    auto client = sqs::Client::make(*sqs_cfg);
    if (!client) return usage_error(client.error().message);
    if (int rc = sqs::require_queue(*client, vm["queue-name"].as<std::string>(), &fleet.queue_url);
        rc != kExitOk) {
      return rc;
    }
    auto db = fleet.connect_db();
    if (!db) {
      log::error("database_unavailable", {{"error", db.error().describe()}});
      return kExitUnavailable;
    }
    if (int rc = store::require_migrated(**db); rc != kExitOk) return rc;
  }

  loadsim::Simulation sim(std::move(options), std::move(fleet));
  if (auto st = sim.check(); !st) return usage_error(st.error().message);

  // The first SIGINT/SIGTERM ends the simulation early, with a report.
  auto report = [&] {
    StopSignals signals([&](int) { sim.request_stop(); });
    return sim.run();
  }();
  if (!report) {
    log::error("loadsim_failed", {{"error", report.error().describe()}});
    return kExitUnavailable;
  }

  if (const auto& path = vm["report"].as<std::string>(); !path.empty()) {
    if (auto st = loadsim::write_report_files(*report, path); !st) {
      log::error("report_not_written", {{"error", st.error().message}});
      return kExitFailure;
    }
  }
  if (vm["json"].as<bool>()) {
    fmt::print("{}\n", loadsim::to_json(*report).dump(2));
  } else {
    fmt::print("{}", loadsim::format_summary(*report));
  }
  return loadsim::verdict(*report).ok ? kExitOk : kExitFailure;
}

}  // namespace opfleet::cli
