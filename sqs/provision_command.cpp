// `opfleet provision`: creates the task queue and its DLQ, or checks that they exist as
// configured. Prints the queues' URLs and ARNs as a table, or as JSON with --json.
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "config/config.h"
#include "config/validate.h"
#include "sqs/client.h"
#include "sqs/client_config.h"
#include "sqs/provision.h"

namespace opfleet::sqs {
namespace {

namespace po = boost::program_options;

constexpr std::string_view kFifoSuffix = ".fifo";

config::CommandSpec provision_spec() {
  const ProvisionSpec defaults;
  po::options_description own("provision options");
  own.add_options()(
      "standard", po::bool_switch()->default_value(false),
      "make a standard queue instead of a FIFO one (the default --queue-name then loses "
      "its .fifo)")("queue-visibility-timeout-s",
                    config::in_range<int>(0, 43200)->value_name("S")->default_value(
                        defaults.visibility_timeout_s),
                    "VisibilityTimeout of the task queue, in seconds")(
      "queue-receive-wait-s",
      config::in_range<int>(0, 20)->value_name("S")->default_value(defaults.receive_wait_s),
      "ReceiveMessageWaitTimeSeconds of the task queue (long polling), in seconds")(
      "queue-retention-s",
      config::in_range<int>(60, 1209600)->value_name("S")->default_value(defaults.retention_s),
      "MessageRetentionPeriod of the task queue, in seconds (default 4 days)")(
      "dlq-retention-s",
      config::in_range<int>(60, 1209600)->value_name("S")->default_value(defaults.dlq_retention_s),
      "MessageRetentionPeriod of the DLQ, in seconds (default 14 days, the maximum)")(
      "max-receive-count",
      config::in_range<int>(1, 1000)->value_name("N")->default_value(defaults.max_receive_count),
      "receives without a delete before SQS moves a message to the DLQ")(
      "json", po::bool_switch()->default_value(false), "print the result as JSON");
  po::options_description all;
  all.add(config::aws_options()).add(own);
  return {"provision",
          "opfleet provision [options]",
          "Creates the task queue (FIFO unless --standard) and its dead-letter queue with a "
          "redrive policy, or checks that they already exist with these settings. Running it "
          "again changes nothing. An existing queue with other settings is reported, attribute "
          "by attribute, and left unchanged (exit code 1).",
          all,
          {},
          {}};
}

// Same file as run_provision, so the linker keeps it (see config/config.h).
const config::Registration kProvisionSpec(&provision_spec);

int exit_code_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kInvalid:
      return cli::kExitUsage;
    case ErrorKind::kNetwork:
    case ErrorKind::kTimeout:
    case ErrorKind::kUnavailable:
    case ErrorKind::kThrottled:
      return cli::kExitUnavailable;
    default:
      return cli::kExitFailure;
  }
}

// The spec from the options; kInvalid when --standard and the queue name disagree.
Result<ProvisionSpec> spec_from(const po::variables_map& vm) {
  ProvisionSpec spec;
  spec.queue_name = vm["queue-name"].as<std::string>();
  const bool standard = vm["standard"].as<bool>();
  const bool fifo_name = spec.queue_name.ends_with(kFifoSuffix);
  if (standard && fifo_name) {
    if (!vm["queue-name"].defaulted()) {
      return fail(Error::invalid(fmt::format(
          "--standard: queue name '{}' ends in .fifo, which SQS reserves for FIFO queues",
          spec.queue_name)));
    }
    spec.queue_name.resize(spec.queue_name.size() - kFifoSuffix.size());
  } else if (!standard && !fifo_name) {
    return fail(Error::invalid(fmt::format(
        "queue name '{}' does not end in .fifo: FIFO queue names must, or pass --standard "
        "for a standard queue",
        spec.queue_name)));
  }
  spec.dlq_name = vm["dlq-name"].as<std::string>();
  spec.visibility_timeout_s = vm["queue-visibility-timeout-s"].as<int>();
  spec.receive_wait_s = vm["queue-receive-wait-s"].as<int>();
  spec.retention_s = vm["queue-retention-s"].as<int>();
  spec.dlq_retention_s = vm["dlq-retention-s"].as<int>();
  spec.max_receive_count = vm["max-receive-count"].as<int>();
  OPFLEET_TRY_STATUS(validate(spec));
  return spec;
}

nlohmann::json queue_json(const ProvisionedQueue& q) {
  return {{"name", q.name},
          {"url", q.url},
          {"arn", q.arn},
          {"fifo", q.name.ends_with(kFifoSuffix)},
          {"status", q.created ? "created" : "unchanged"}};
}

void print_table(const ProvisionResult& r) {
  struct Row {
    std::string role, name, status, url, arn;
  };
  const std::vector<Row> rows = {
      {"ROLE", "NAME", "STATUS", "URL", "ARN"},
      {"queue", r.queue.name, r.queue.created ? "created" : "unchanged", r.queue.url, r.queue.arn},
      {"dlq", r.dlq.name, r.dlq.created ? "created" : "unchanged", r.dlq.url, r.dlq.arn},
  };
  std::size_t w_role = 0, w_name = 0, w_status = 0, w_url = 0;
  for (const Row& row : rows) {
    w_role = std::max(w_role, row.role.size());
    w_name = std::max(w_name, row.name.size());
    w_status = std::max(w_status, row.status.size());
    w_url = std::max(w_url, row.url.size());
  }
  for (const Row& row : rows) {
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row.role, w_role, row.name, w_name,
               row.status, w_status, row.url, w_url, row.arn);
  }
  const int created = (r.queue.created ? 1 : 0) + (r.dlq.created ? 1 : 0);
  if (created == 0) {
    fmt::print("nothing changed: both queues already exist with these settings\n");
  } else {
    fmt::print("created {} queue{}\n", created, created == 1 ? "" : "s");
  }
}

}  // namespace
}  // namespace opfleet::sqs

namespace opfleet::cli {

int run_provision(int argc, char** argv) {
  config::Parsed cfg;
  if (int rc = config::parse_or_exit(sqs::provision_spec(), argc, argv, &cfg); rc >= 0) return rc;

  auto spec = sqs::spec_from(cfg.vm);
  if (!spec) {
    fmt::print(stderr, "opfleet provision: {}\n", spec.error().message);
    return kExitUsage;
  }
  auto client_config = sqs::client_config_from_options(cfg.vm);
  if (!client_config) {
    fmt::print(stderr, "opfleet provision: {}\n", client_config.error().message);
    return kExitUsage;
  }
  auto client = sqs::Client::make(std::move(*client_config));
  if (!client) {
    fmt::print(stderr, "opfleet provision: {}\n", client.error().message);
    return kExitUsage;
  }
  auto result = sqs::provision(*client, *spec);
  if (!result) {
    fmt::print(stderr, "opfleet provision: {}\n", result.error().describe());
    return sqs::exit_code_for(result.error());
  }
  if (cfg.vm["json"].as<bool>()) {
    nlohmann::json out = {{"queue", sqs::queue_json(result->queue)},
                          {"dlq", sqs::queue_json(result->dlq)},
                          {"max_receive_count", spec->max_receive_count},
                          {"changed", result->changed()}};
    fmt::print("{}\n", out.dump(2));
  } else {
    sqs::print_table(*result);
  }
  return kExitOk;
}

}  // namespace opfleet::cli
