// `opfleet migrate [--status]`: brings the schema up to date, or shows where it stands.
#include <string>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "config/config.h"
#include "store/connection_config.h"
#include "store/migrations.h"

namespace opfleet::store {
namespace {

namespace po = boost::program_options;

config::CommandSpec migrate_spec() {
  po::options_description own("migrate options");
  own.add_options()("status", po::bool_switch()->default_value(false),
                    "show the schema version and the applied and pending migrations; change "
                    "nothing");
  po::options_description all;
  all.add(config::database_options()).add(own);
  return {"migrate",
          "opfleet migrate [--status] [options]",
          "Brings the PostgreSQL schema up to date by applying the migrations built into this "
          "binary, each in its own transaction. Running it again changes nothing, and runs "
          "started at the same time (several hosts deploying at once) are serialised by an "
          "advisory lock. Every statement, and the wait for a concurrent migrate, is bounded by "
          "--db-statement-timeout-ms: raise it (0 = no limit) for a migration that rebuilds "
          "large tables.",
          all,
          {},
          {}};
}

// Same file as run_migrate, so the linker keeps it (see config/config.h).
const config::Registration kMigrateSpec(&migrate_spec);

int exit_code_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kNetwork:
    case ErrorKind::kTimeout:
    case ErrorKind::kUnavailable:
      return cli::kExitUnavailable;
    case ErrorKind::kAuth:
    case ErrorKind::kNotFound:
      return cli::kExitConfig;  // wrong password or database: retrying will not help
    default:
      return cli::kExitFailure;
  }
}

int print_status(Connection& conn) {
  auto status = schema_status(conn);
  if (!status) {
    fmt::print(stderr, "opfleet migrate: {}\n", status.error().describe());
    return exit_code_for(status.error());
  }
  fmt::print("schema at version {} of {}{}\n", status->current, status->latest,
             status->pending.empty() ? " (up to date)" : "");
  for (const auto& m : status->applied) {
    fmt::print("  applied  {:>4}  {:<32} {}\n", m.version, m.name, m.applied_at);
  }
  for (const auto& m : status->pending) {
    fmt::print("  pending  {:>4}  {}\n", m.version, m.name);
  }
  return cli::kExitOk;
}

}  // namespace
}  // namespace opfleet::store

namespace opfleet::cli {

int run_migrate(int argc, char** argv) {
  config::Parsed cfg;
  if (int rc = config::parse_or_exit(store::migrate_spec(), argc, argv, &cfg); rc >= 0) return rc;
  auto options = store::connection_options_from(cfg.vm, "opfleet-migrate");
  if (!options) {
    fmt::print(stderr, "opfleet migrate: {}\n", options.error().message);
    return kExitUsage;
  }
  store::Connection conn(std::move(*options));
  if (cfg.vm["status"].as<bool>()) return store::print_status(conn);

  auto report = store::migrate(conn);
  if (!report) {
    fmt::print(stderr, "opfleet migrate: {}\n", report.error().describe());
    return store::exit_code_for(report.error());
  }
  for (const auto& m : report->applied) {
    fmt::print("applied migration {} {}\n", m.version, m.name);
  }
  if (report->applied.empty()) {
    fmt::print("schema at version {}, nothing to do\n", report->to);
  } else {
    fmt::print("schema at version {} (was {})\n", report->to, report->from);
  }
  return kExitOk;
}

}  // namespace opfleet::cli
