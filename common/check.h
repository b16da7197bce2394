// Broken internal invariants (a corrupt shared-memory header, an impossible state)
// abort the process so the supervisor or systemd restarts it from a clean state.
#pragma once

namespace opfleet {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* why);
}

#define OPFLEET_CHECK(cond, why)                                      \
  do {                                                                \
    if (!(cond)) ::opfleet::check_failed(#cond, __FILE__, __LINE__, why); \
  } while (0)
