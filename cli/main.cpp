#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/subcommands.h"

namespace opfleet::cli {

int run_version(int argc, char** argv) {
  if (argc > 1) {
    if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
      fmt::print("usage: opfleet version\n\nPrints the version.\n");
      return kExitOk;
    }
    fmt::print(stderr, "opfleet version: unexpected argument '{}' (usage: opfleet version)\n",
               argv[1]);
    return kExitUsage;
  }
  fmt::print("opfleet {}\n", OPFLEET_VERSION);
  return kExitOk;
}

namespace {

void print_usage(std::FILE* out) {
  fmt::print(out,
             "opfleet {} - run data-pipeline ops on a fleet of workers fed by SQS,\n"
             "with exactly-once effects kept in PostgreSQL.\n\n"
             "usage: opfleet <command> [options]   (opfleet <command> --help for details)\n\n"
             "commands:\n",
             OPFLEET_VERSION);
  for (const auto& c : commands()) fmt::print(out, "  {:<12} {}\n", c.name, c.summary);
  fmt::print(out,
             "\nOptions come from flags, then OPFLEET_* environment variables, then the config\n"
             "file (--config FILE, default /etc/opfleet/opfleet.conf), then defaults;\n"
             "'opfleet config show --for <command>' prints what a command would use.\n");
}

// `opfleet help <command>` is `opfleet <command> --help`.
int run_help_for(std::string_view name) {
  for (const auto& c : commands()) {
    if (c.name == name) {
      std::string arg0(name);
      std::string flag = "--help";
      char* argv[] = {arg0.data(), flag.data(), nullptr};
      return c.run(2, argv);
    }
  }
  fmt::print(stderr, "opfleet: unknown command '{}' (see opfleet --help)\n", name);
  return kExitUsage;
}

}  // namespace
}  // namespace opfleet::cli

int main(int argc, char** argv) {
  using namespace opfleet::cli;
  if (argc == 3 && std::strcmp(argv[1], "help") == 0) return run_help_for(argv[2]);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (std::strcmp(argv[1], "--version") == 0) return run_version(argc - 1, argv + 1);
  std::string_view name = argv[1];
  for (const auto& c : commands()) {
    if (c.name == name) return c.run(argc - 1, argv + 1);
  }
  fmt::print(stderr, "opfleet: unknown command '{}' (see opfleet --help)\n", name);
  return kExitUsage;
}
