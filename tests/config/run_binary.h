// Runs the built `opfleet` binary with exactly the given arguments and environment (nothing
// inherited, so the developer's OPFLEET_* variables cannot change the outcome).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace opfleet::testing {

struct RunResult {
  int exit_code = -1;      // -1 when killed by a signal
  bool timed_out = false;  // killed after 20 s
  std::string out;
  std::string err;
};

RunResult run_opfleet(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {});

}  // namespace opfleet::testing
