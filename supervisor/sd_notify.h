// systemd's notification protocol (sd_notify(3)), implemented here rather than linking
// libsystemd: newline-separated VAR=value assignments in one datagram to the AF_UNIX
// socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a leading
// '@'). The supervisor sends READY=1, STATUS=..., WATCHDOG=1, RELOADING=1 with
// MONOTONIC_USEC, STOPPING=1 and EXTEND_TIMEOUT_USEC (docs/supervisor.md).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "supervisor/unique_fd.h"

namespace opfleet::supervisor {

// "A=1\nB=2" from the assignments, in order. Values must not contain newlines (they would
// start a new assignment): those are replaced by spaces.
std::string notify_message(const std::vector<std::pair<std::string, std::string>>& assignments);

struct NotifyAddress {
  sockaddr_un addr{};
  socklen_t length = 0;
};
// The socket address for a $NOTIFY_SOCKET value: "/run/systemd/notify" or "@name"
// (abstract: the '@' becomes a NUL byte and the length excludes any terminator).
// kInvalid for anything else (relative paths, too long, empty).
Result<NotifyAddress> notify_address(std::string_view notify_socket);

// The watchdog ping interval for $WATCHDOG_USEC / $WATCHDOG_PID: half the timeout, as
// sd_watchdog_enabled(3) advises; nullopt when the watchdog is off or meant for
// another process.
std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid, int own_pid);

class Notifier {
 public:
  // From the environment; unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID so that
  // no child process ever talks to systemd on the supervisor's behalf. Call while the
  // process is single-threaded (it changes the environment).
  static Notifier from_environment();
  // To an explicit socket (tests); empty: disabled.
  explicit Notifier(std::string notify_socket = {});

  bool enabled() const { return address_.has_value(); }
  std::optional<std::chrono::microseconds> watchdog() const { return watchdog_; }

  // Sends one message; a no-op when disabled. Errors are returned, and the socket is
  // non-blocking: a full receiver drops the message rather than stalling the loop.
  Status send(std::string_view message);

 private:
  std::optional<NotifyAddress> address_;
  std::optional<std::chrono::microseconds> watchdog_;
  UniqueFd fd_;
};

}  // namespace opfleet::supervisor
