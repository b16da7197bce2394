// Entry points of every subcommand, implemented in their components.
#pragma once

namespace opfleet::cli {

int run_version(int argc, char** argv);

}  // namespace opfleet::cli
