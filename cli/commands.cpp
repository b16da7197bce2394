#include <array>

#include "cli/command.h"
#include "cli/subcommands.h"

namespace opfleet::cli {

std::span<const Command> commands() {
  static const std::array kCommands = {
      Command{"version", "print the version", &run_version},
  };
  return kCommands;
}

}  // namespace opfleet::cli
