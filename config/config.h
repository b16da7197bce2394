// Configuration in one place. Every subcommand declares its options with
// boost::program_options; values come from, in order of precedence:
//   1. command-line flags           --sqs-endpoint http://...
//   2. environment variables        OPFLEET_SQS_ENDPOINT=http://...
//   3. the INI file                 --config FILE (default /etc/opfleet/opfleet.conf)
//   4. the declared defaults
// Option "foo-bar" is OPFLEET_FOO_BAR in the environment and `foo-bar = ...` in the file
// (top level, or in a section named after the subcommand: [worker], [scaler], ...).
// Unknown keys in the file and bad values anywhere are errors naming the key and its source.
// docs/configuration.md is the user-facing description.
//
// A subcommand's usual shape:
//
//   config::CommandSpec worker_spec() {
//     po::options_description own("worker options");
//     own.add_options()("slots", config::positive_int()->default_value(4), "ops run at once");
//     po::options_description all;
//     all.add(config::database_options()).add(config::aws_options()).add(own);
//     return {"worker", "opfleet worker [options]", "Runs ops from the queue.", all, {}, {}};
//   }
//   // Same file as run_worker, so the linker always keeps it: lets the INI file's top-level
//   // keys and [worker] section be checked by every subcommand, and `config show --for worker`.
//   const config::Registration kWorkerSpec(&worker_spec);
//
//   int run_worker(int argc, char** argv) {
//     config::Parsed cfg;
//     if (int rc = config::parse_or_exit(worker_spec(), argc, argv, &cfg); rc >= 0) return rc;
//     int slots = cfg.vm["slots"].as<int>();
//     ...
//
// Value types of the shared groups (what vm["key"].as<T>() takes): every string option is
// std::string; every number (...-ms, ...-s, thresholds, attempts) is int.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "common/result.h"

namespace opfleet::config {

namespace po = boost::program_options;

inline constexpr const char* kDefaultConfigFile = "/etc/opfleet/opfleet.conf";

// Options every subcommand has: --help, --config, --log-level, --log-format.
// parse() adds them when the spec does not declare --help itself.
po::options_description general_options();
// --database-url, --db-statement-timeout-ms, --db-connect-timeout-s (PostgreSQL).
// When `url_required`, parse() fails unless --database-url is set to something non-empty.
po::options_description database_options(bool url_required = true);
// --sqs-endpoint, --region, --queue-name, --dlq-name, --aws-profile, --sqs-retry-*,
// --sqs-breaker-* (AWS/SQS).
po::options_description aws_options();

struct CommandSpec {
  std::string_view name;            // "worker"
  std::string_view usage;           // "opfleet worker [options]"
  std::string_view summary;         // one paragraph for --help
  po::options_description options;  // everything the command accepts (listed in --help)
  po::positional_options_description positional;  // optional positional args
  // Accepted but not listed in --help: the options that positional arguments map to.
  // Positional options are operands of one invocation, never read from the environment or file.
  po::options_description hidden;
};

// The groups the services share (general, database with an optional URL, AWS/SQS) as a spec
// without a name: what `opfleet config show` shows without --for; its keys are valid at the
// top level of every config file.
CommandSpec shared_spec();

// Where a value came from.
enum class Source { kDefault, kFile, kEnvironment, kFlag };

struct Origin {
  Source source = Source::kDefault;
  std::string where;  // "--slots", "OPFLEET_SLOTS", "/etc/opfleet/opfleet.conf line 12", ""
  std::vector<std::string> tokens;  // the value as written; empty for defaults
};

// "flag --slots", "env OPFLEET_SLOTS", "file /etc/opfleet/opfleet.conf line 12", "default".
std::string describe(const Origin& origin);

struct Parsed {
  po::variables_map vm;
  bool help = false;  // --help was given: the caller prints `help_text` and exits 0
  std::string help_text;
  std::string config_file;  // the file that was read; empty when the default file is absent
  // One entry per option the command declares (help excepted), keyed by option name.
  std::map<std::string, Origin, std::less<>> origins;
};

// How parse() sees the world outside the command line; tests replace the pieces.
struct ParseOptions {
  // Looks up an environment variable; nullopt when unset. Empty means ::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string default_config_file = kDefaultConfigFile;
  bool configure_logging = true;  // apply --log-level/--log-format to common/log.h
  bool check_required = true;     // `config show` lists missing required values instead
};

// Parses flags, environment and file with the precedence above. On error the
// message names the offending key and where it came from (flag, env var, file:line).
// Also applies --log-level/--log-format to the logger.
Result<Parsed> parse(const CommandSpec& spec, int argc, char** argv);
// Same, with the arguments after the subcommand name (argv[1..]).
Result<Parsed> parse(const CommandSpec& spec, const std::vector<std::string>& args,
                     const ParseOptions& options);

// For subcommands: parse, print help (stdout) or the error (stderr), and return the exit code
// to use if the command must stop now (0 after --help, 2 after an error), or -1 to go on.
int parse_or_exit(const CommandSpec& spec, int argc, char** argv, Parsed* out);

// The --help text: usage, summary, options, and where else options can be set.
std::string help_text(const CommandSpec& spec);

// Everything `spec` accepts: the general options (unless it declares its own --help), its
// options and its hidden options.
po::options_description all_options(const CommandSpec& spec);
// The options `spec` reads from the environment and the file, in declaration order: all but
// --help, the hidden options and positional operands.
std::vector<std::string> settable_options(const CommandSpec& spec);

// "foo-bar" -> "OPFLEET_FOO_BAR".
std::string env_name(std::string_view option);

// Registry of every subcommand's spec. The INI file serves all subcommands, so a top-level
// key is valid if ANY subcommand knows it, and a [name] section must name a subcommand;
// `opfleet config show --for NAME` shows NAME's configuration.
using SpecFactory = CommandSpec (*)();
class Registration {
 public:
  // Call during static initialization only (a namespace-scope object), next to run_<name>.
  explicit Registration(SpecFactory factory);
};
std::vector<CommandSpec> registered_specs();  // in registration order
std::optional<CommandSpec> find_registered(std::string_view name);

}  // namespace opfleet::config
