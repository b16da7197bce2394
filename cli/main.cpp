#include <cstdio>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/subcommands.h"

namespace opfleet::cli {

int run_version(int /*argc*/, char** /*argv*/) {
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
}

}  // namespace
}  // namespace opfleet::cli

int main(int argc, char** argv) {
  using namespace opfleet::cli;
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
