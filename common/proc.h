// Small facts about processes, read from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace opfleet {

// The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22). Together
// with the pid it names a process uniquely: a recycled pid has another start time.
std::optional<std::uint64_t> process_start_ticks(pid_t pid);

// True if `pid` runs and, when `start_ticks` is given, is the same process as then.
bool process_alive(pid_t pid, std::optional<std::uint64_t> start_ticks = std::nullopt);

// Resident set size of `pid` in bytes (from /proc/<pid>/statm), or nullopt.
std::optional<std::uint64_t> process_rss_bytes(pid_t pid);

// CLOCK_MONOTONIC in nanoseconds: the clock shared by all processes on this host.
std::uint64_t monotonic_ns();

}  // namespace opfleet
