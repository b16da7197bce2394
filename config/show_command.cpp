// `opfleet config show [--for COMMAND]`: the effective configuration of a subcommand, each
// value with where it came from, secrets masked. The first thing to run when a service does
// not do what its unit file and config file seem to say.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "config/config.h"
#include "config/show.h"

namespace opfleet::config {
namespace {

constexpr std::string_view kUsage = "opfleet config show [--for COMMAND] [--config FILE]";

CommandSpec config_spec() {
  po::options_description own("config options");
  own.add_options()("for", po::value<std::string>()->value_name("COMMAND")->default_value("", ""),
                    "show the configuration of this subcommand (default: the options shared "
                    "by the services: general, database, AWS/SQS)");
  po::options_description hidden;
  hidden.add_options()("action", po::value<std::string>(), "show");
  po::positional_options_description positional;
  positional.add("action", 1);
  return CommandSpec{
      "config",
      kUsage,
      "Prints the effective configuration: every option with its value and its source (flag, "
      "env, file line, default).\nPasswords, secrets and tokens are masked.",
      own,
      positional,
      hidden};
}
// Next to run_config so the linker keeps it (see Registration in config/config.h).
const Registration kConfigSpec(&config_spec);

int usage_error(const std::string& message) {
  fmt::print(stderr, "opfleet config: {} (usage: {})\n", message, kUsage);
  return cli::kExitUsage;
}

}  // namespace
}  // namespace opfleet::config

namespace opfleet::cli {

int run_config(int argc, char** argv) {
  using namespace opfleet::config;
  Parsed cfg;
  if (int rc = parse_or_exit(config_spec(), argc, argv, &cfg); rc >= 0) return rc;
  std::string action = cfg.vm.count("action") != 0 ? cfg.vm["action"].as<std::string>() : "";
  if (action.empty()) return usage_error("missing action");
  if (action != "show") return usage_error(fmt::format("unknown action '{}'", action));

  std::string target = cfg.vm["for"].as<std::string>();
  std::optional<CommandSpec> spec = target.empty() ? shared_spec() : find_registered(target);
  if (!spec) {
    std::vector<std::string> names;
    for (const CommandSpec& s : registered_specs()) names.emplace_back(s.name);
    return usage_error(fmt::format("no subcommand '{}' declares options (known: {})", target,
                                   fmt::join(names, ", ")));
  }
  // Show the file this invocation was told to read; OPFLEET_CONFIG reaches the target by itself.
  std::vector<std::string> args;
  if (cfg.origins.at("config").source == Source::kFlag) {
    args = {"--config", cfg.vm["config"].as<std::string>()};
  }
  ParseOptions options;
  options.configure_logging = false;
  options.check_required = false;  // list a missing required value rather than fail on it
  auto shown = parse(*spec, args, options);
  if (!shown) {
    fmt::print(stderr, "opfleet config: {}\n", shown.error().message);
    return kExitUsage;
  }
  if (target.empty()) {
    fmt::print("# shared configuration (general, database, AWS/SQS); --for COMMAND shows one\n");
  } else {
    fmt::print("# configuration of opfleet {}\n", target);
  }
  const std::string& file = shown->vm["config"].as<std::string>();
  fmt::print("# config file: {}{}\n", file, shown->config_file.empty() ? " (absent)" : "");
  fmt::print("{}", show_table(*spec, *shown));
  return kExitOk;
}

}  // namespace opfleet::cli
