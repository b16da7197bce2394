// `opfleet submit JOB`, `opfleet runs`, `opfleet run RUN_ID`.
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "config/validate.h"
#include "jobs/registry.h"
#include "sqs/client.h"
#include "sqs/client_config.h"
#include "store/connection_config.h"
#include "worker/run_view.h"
#include "worker/submit.h"

namespace opfleet::cli {
namespace {

namespace po = boost::program_options;

po::options_description jobs_options() {
  po::options_description d("job options");
  d.add_options()("jobs-file", po::value<std::string>()->value_name("PATH")->default_value("", ""),
                  "a job definition file, or a directory of *.json files, added to the "
                  "built-in jobs (docs/jobs.md)");
  return d;
}

config::CommandSpec submit_spec() {
  config::CommandSpec spec;
  spec.name = "submit";
  spec.usage = "opfleet submit JOB [--tag k=v]... [--wait] [options]";
  spec.summary =
      "Creates a run of JOB (its steps in one transaction) and enqueues its root steps. "
      "Prints the run id. With --wait, follows the run to its end and exits 1 if it failed.";
  spec.options.add(config::general_options())
      .add(config::database_options(true))
      .add(config::aws_options())
      .add(jobs_options());
  spec.options.add_options()
      ("tag", po::value<std::vector<std::string>>()->value_name("K=V")->composing(),
       "a tag on the run (repeatable)")
      ("time-scale", config::in_range<double>(1e-6, 1000.0)->value_name("X")->default_value(1.0),
       "multiplies every op duration (0.01: a 20 s op sleeps 0.2 s)")
      ("wait", po::bool_switch(), "follow the run until it ends")
      ("wait-timeout-s", config::positive_int()->value_name("S")->default_value(86400),
       "with --wait: give up (exit 1) after this long")
      ("json", po::bool_switch(), "print JSON");
  spec.hidden.add_options()("job", po::value<std::string>()->required(), "job name");
  spec.positional.add("job", 1);
  return spec;
}

config::CommandSpec runs_spec() {
  config::CommandSpec spec;
  spec.name = "runs";
  spec.usage = "opfleet runs [--status S] [--job J] [--limit N] [--json]";
  spec.summary = "Lists the most recent runs.";
  spec.options.add(config::general_options()).add(config::database_options(true));
  spec.options.add_options()
      ("status", po::value<std::string>()->value_name("S")->default_value("", ""),
       "only runs in this status (queued, running, succeeded, failed, cancelled)")
      ("job", po::value<std::string>()->value_name("J")->default_value("", ""), "only this job")
      ("limit", config::positive_int()->value_name("N")->default_value(20), "at most N runs")
      ("json", po::bool_switch(), "print JSON");
  return spec;
}

config::CommandSpec run_spec() {
  config::CommandSpec spec;
  spec.name = "run";
  spec.usage = "opfleet run RUN_ID [--json]";
  spec.summary = "Shows one run: its steps (status, attempts, timings) and its attempts log.";
  spec.options.add(config::general_options()).add(config::database_options(true));
  spec.options.add_options()("json", po::bool_switch(), "print JSON");
  spec.hidden.add_options()("run-id", po::value<std::string>()->required(), "run id");
  spec.positional.add("run-id", 1);
  return spec;
}

const config::Registration kSubmitSpec(&submit_spec);
const config::Registration kRunsSpec(&runs_spec);
const config::Registration kRunSpec(&run_spec);

Result<std::unique_ptr<store::Connection>> open_db(const po::variables_map& vm, const char* app) {
  OPFLEET_TRY(auto opts, store::connection_options_from(vm, app));
  return store::connect(std::move(opts));
}

}  // namespace

int run_submit(int argc, char** argv) {
  const auto spec = submit_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto registry = jobs::load_registry(vm["jobs-file"].as<std::string>());
  if (!registry) {
    fmt::print(stderr, "opfleet submit: {}\n", registry.error().message);
    return kExitUsage;
  }
  const std::string job_name = vm["job"].as<std::string>();
  const jobs::JobDef* job = registry->find(job_name);
  if (job == nullptr) {
    fmt::print(stderr, "opfleet submit: unknown job '{}' (known: {})\n", job_name,
               fmt::join(registry->names(), ", "));
    return kExitUsage;
  }
  worker::Tags tags;
  if (vm.count("tag") != 0) {
    for (const auto& t : vm["tag"].as<std::vector<std::string>>()) {
      auto kv = worker::parse_tag(t);
      if (!kv) {
        fmt::print(stderr, "opfleet submit: --tag: {}\n", kv.error().message);
        return kExitUsage;
      }
      tags[kv->first] = kv->second;
    }
  }
  auto sqs_cfg = sqs::client_config_from_options(vm);
  if (!sqs_cfg) {
    fmt::print(stderr, "opfleet submit: {}\n", sqs_cfg.error().message);
    return kExitUsage;
  }
  auto client = sqs::Client::make(*sqs_cfg);
  if (!client) {
    fmt::print(stderr, "opfleet submit: {}\n", client.error().message);
    return kExitUsage;
  }
  auto queue_url = client->get_queue_url(vm["queue-name"].as<std::string>());
  if (!queue_url) {
    fmt::print(stderr, "opfleet submit: queue '{}': {} (run `opfleet provision` first)\n",
               vm["queue-name"].as<std::string>(), queue_url.error().describe());
    return kExitUnavailable;
  }
  auto db = open_db(vm, "opfleet-submit");
  if (!db) {
    fmt::print(stderr, "opfleet submit: {}\n", db.error().describe());
    return kExitUnavailable;
  }
  auto res = worker::submit_run(**db, *client, *queue_url, *job, tags,
                                vm["time-scale"].as<double>());
  if (!res) {
    fmt::print(stderr, "opfleet submit: {}\n", res.error().describe());
    return kExitFailure;
  }
  const bool json = vm["json"].as<bool>();
  if (!vm["wait"].as<bool>()) {
    if (json) {
      fmt::print("{}\n", nlohmann::json{{"run_id", res->run_id}, {"job", job_name},
                                        {"roots", res->roots}, {"sent", res->sent}}.dump());
    } else {
      fmt::print("{}\n", res->run_id);
    }
    return kExitOk;
  }
  if (!json) fmt::print(stderr, "run {} submitted; waiting for it to end\n", res->run_id);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(vm["wait-timeout-s"].as<int>());
  for (;;) {
    auto view = worker::load_run(**db, res->run_id);
    if (view && view->finished()) {
      if (json) {
        fmt::print("{}\n", worker::to_json(*view).dump());
      } else {
        fmt::print("{}", worker::format_run(*view));
      }
      return view->status == "succeeded" ? kExitOk : kExitFailure;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fmt::print(stderr, "opfleet submit: run {} still not finished after --wait-timeout-s\n",
                 res->run_id);
      return kExitFailure;
    }
    // Polling the run row is the simplest robust follower (it survives reconnects).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int run_runs(int argc, char** argv) {
  const auto spec = runs_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto db = open_db(vm, "opfleet-runs");
  if (!db) {
    fmt::print(stderr, "opfleet runs: {}\n", db.error().describe());
    return kExitUnavailable;
  }
  auto runs = worker::list_runs(**db, vm["status"].as<std::string>(), vm["job"].as<std::string>(),
                                vm["limit"].as<int>());
  if (!runs) {
    fmt::print(stderr, "opfleet runs: {}\n", runs.error().describe());
    return kExitFailure;
  }
  if (vm["json"].as<bool>()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *runs) arr.push_back(worker::to_json(r));
    fmt::print("{}\n", arr.dump(2));
  } else {
    fmt::print("{}", worker::format_runs(*runs));
  }
  return kExitOk;
}

int run_run(int argc, char** argv) {
  const auto spec = run_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto db = open_db(vm, "opfleet-run");
  if (!db) {
    fmt::print(stderr, "opfleet run: {}\n", db.error().describe());
    return kExitUnavailable;
  }
  auto view = worker::load_run(**db, vm["run-id"].as<std::string>());
  if (!view) {
    fmt::print(stderr, "opfleet run: {}\n", view.error().describe());
    return view.error().kind == ErrorKind::kNotFound ? kExitUsage : kExitFailure;
  }
  if (vm["json"].as<bool>()) {
    fmt::print("{}\n", worker::to_json(*view).dump(2));
  } else {
    fmt::print("{}", worker::format_run(*view));
  }
  return kExitOk;
}

}  // namespace opfleet::cli
