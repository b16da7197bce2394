// The `opfleet` executable is a table of subcommands. Each component exposes one
// entry point `int run_<name>(int argc, char** argv)` (argv[0] is the subcommand name)
// and returns a process exit code (see cli/exit_codes.h).
#pragma once

#include <span>
#include <string_view>

namespace opfleet::cli {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(int argc, char** argv);
};

// All subcommands, in the order `opfleet --help` lists them.
std::span<const Command> commands();

}  // namespace opfleet::cli
