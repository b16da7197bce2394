// The table `opfleet config show` prints: one row per option a command reads from the
// environment and the file, with its effective value (secrets masked) and its source.
#pragma once

#include <string>

#include "config/config.h"

namespace opfleet::config {

// KEY / VALUE / SOURCE rows for `spec` as `parsed` (from parse()) resolved it.
std::string show_table(const CommandSpec& spec, const Parsed& parsed);

}  // namespace opfleet::config
