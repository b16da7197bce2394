#pragma once

namespace opfleet::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (a run failed, a check found problems)
inline constexpr int kExitUsage = 2;    // bad flags, bad config key or value
// Fatal configuration: a supervisor or systemd must not respawn (RestartPreventExitStatus=78,
// EX_CONFIG from sysexits.h).
inline constexpr int kExitConfig = 78;
inline constexpr int kExitUnavailable = 69;  // a service we need stayed unreachable (EX_UNAVAILABLE)

}  // namespace opfleet::cli
