// `opfleet audit`: the exactly-once audit from PostgreSQL (docs/audit.md).
// Exit codes: 0 no violation, 1 violations found, 2 bad options (including a bad --since),
// 69 the database could not be reached or the audit could not be run, 78 the database is
// not migrated.
#include <string>
#include <vector>

#include <fmt/format.h>

#include "audit/audit.h"
#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "config/config.h"
#include "config/validate.h"
#include "store/connection_config.h"
#include "store/migrations.h"
#include "worker/submit.h"

namespace opfleet::cli {
namespace {

namespace po = boost::program_options;

config::CommandSpec audit_spec() {
  config::CommandSpec spec;
  spec.name = "audit";
  spec.usage = "opfleet audit [--since T] [--tag k=v]... [--json] [options]";
  spec.summary =
      "Checks the exactly-once guarantee from PostgreSQL alone, for the runs submitted since "
      "T that carry every given tag: duplicate completions, overlapping executions, lost "
      "steps and stuck runs (docs/audit.md). Exits 0 when there is no violation, 1 when "
      "there is one.";
  spec.options.add(config::general_options()).add(config::database_options(true));
  // One option per entry reads better than the formatter's layout.
  // clang-format off
  spec.options.add_options()
      ("since", po::value<std::string>()->value_name("T")->default_value("", ""),
       "only runs submitted since T: a UTC time (2030-01-02T03:04:05Z) or a duration "
       "back from now (30m, 2h); default: all runs")
      ("tag", po::value<std::vector<std::string>>()->value_name("K=V")->composing(),
       "only runs with this tag (repeatable: all must match)")
      ("lost-after", config::duration(std::chrono::milliseconds(1))->value_name("D")
                         ->default_value(std::chrono::hours(1), "1h"),
       "a step not finished in a run older than this counts as lost")
      ("stuck-after", config::duration(std::chrono::milliseconds(1))->value_name("D")
                          ->default_value(std::chrono::hours(1), "1h"),
       "an unfinished run older than this, with no execution started or ended for as long, "
       "counts as stuck")
      ("limit", config::non_negative_int()->value_name("N")->default_value(1000),
       "list at most N violations of each kind (the counts stay exact)")
      ("json", po::bool_switch(), "print JSON (docs/audit.md has the schema)");
  // clang-format on
  return spec;
}

// Next to run_audit so the linker keeps it (see Registration in config/config.h).
const config::Registration kAuditSpec(&audit_spec);

}  // namespace

int run_audit(int argc, char** argv) {
  const auto spec = audit_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;

  audit::AuditFilter filter;
  if (const auto& since = vm["since"].as<std::string>(); !since.empty()) {
    // A duration is "that long ago"; anything else goes to PostgreSQL as a timestamp.
    if (auto ago = config::parse_duration(since)) {
      filter.within = *ago;
    } else {
      filter.since = since;
    }
  }
  if (vm.count("tag") != 0) {
    for (const auto& t : vm["tag"].as<std::vector<std::string>>()) {
      auto kv = worker::parse_tag(t);
      if (!kv) {
        fmt::print(stderr, "opfleet audit: --tag: {}\n", kv.error().message);
        return kExitUsage;
      }
      filter.tags[kv->first] = kv->second;
    }
  }
  filter.lost_after = vm["lost-after"].as<std::chrono::milliseconds>();
  filter.stuck_after = vm["stuck-after"].as<std::chrono::milliseconds>();
  filter.list_limit = vm["limit"].as<int>();

  auto options = store::connection_options_from(vm, "opfleet-audit");
  if (!options) {
    fmt::print(stderr, "opfleet audit: {}\n", options.error().message);
    return kExitUsage;
  }
  auto db = store::connect(std::move(*options));
  if (!db) {
    fmt::print(stderr, "opfleet audit: {}\n", db.error().describe());
    return kExitUnavailable;
  }
  // An unmigrated database would fail with "relation runs does not exist": say what to do.
  auto schema = store::schema_status(**db);
  if (!schema) {
    fmt::print(stderr, "opfleet audit: {}\n", schema.error().describe());
    return kExitUnavailable;
  }
  if (schema->current < schema->latest) {
    fmt::print(stderr,
               "opfleet audit: the database schema is at version {} of {}: run `opfleet "
               "migrate` first\n",
               schema->current, schema->latest);
    return kExitConfig;
  }
  auto report = audit::run_audit(**db, filter);
  if (!report) {
    // kInvalid here is PostgreSQL rejecting the --since literal.
    if (report.error().kind == ErrorKind::kInvalid && !filter.since.empty()) {
      fmt::print(stderr, "opfleet audit: --since '{}': {}\n", filter.since, report.error().message);
      return kExitUsage;
    }
    fmt::print(stderr, "opfleet audit: {}\n", report.error().describe());
    return kExitUnavailable;
  }
  if (vm["json"].as<bool>()) {
    fmt::print("{}\n", audit::to_json(*report).dump(2));
  } else {
    fmt::print("{}", audit::format_report(*report));
  }
  return report->ok() ? kExitOk : kExitFailure;
}

}  // namespace opfleet::cli
