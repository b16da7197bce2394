// Runs a `command` op: an argv whose program is on the configured allow-list, in its own
// process group, stdin from /dev/null, stdout/stderr captured up to a bound, killed
// (SIGTERM to the group, then SIGKILL) on timeout, cancellation or self-fencing.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/result.h"
#include "worker/cancel.h"

namespace opfleet::worker {

struct CommandSpec {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{60000};
  std::size_t max_output_bytes = 16 * 1024;  // per stream
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  StopReason stopped = StopReason::kNone;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::chrono::milliseconds elapsed{0};
};

// Spawn failures (program missing, not allowed) are errors; a program that runs and exits
// non-zero is a CommandResult with its exit code.
Result<CommandResult> run_command(const CommandSpec& spec,
                                  const std::vector<std::string>& allow_list,
                                  CancelToken& token);

}  // namespace opfleet::worker
