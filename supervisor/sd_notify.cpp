#include "supervisor/sd_notify.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::supervisor {

std::string notify_message(const std::vector<std::pair<std::string, std::string>>& assignments) {
  std::string out;
  for (const auto& [name, value] : assignments) {
    if (!out.empty()) out += '\n';
    out += name;
    out += '=';
    for (char c : value) out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

Result<NotifyAddress> notify_address(std::string_view s) {
  NotifyAddress a;
  a.addr.sun_family = AF_UNIX;
  if (s.size() < 2 || (s[0] != '/' && s[0] != '@')) {
    return fail(
        Error::invalid(fmt::format("NOTIFY_SOCKET '{}': not an absolute path or @name", s)));
  }
  // A path needs room for its terminating NUL; an abstract name does not have one.
  const std::size_t room = sizeof(a.addr.sun_path) - (s[0] == '/' ? 1 : 0);
  if (s.size() > room) return fail(Error::invalid("NOTIFY_SOCKET: name too long"));
  std::memcpy(a.addr.sun_path, s.data(), s.size());
  if (s[0] == '@') a.addr.sun_path[0] = '\0';
  a.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + s.size() + (s[0] == '/' ? 1 : 0));
  return a;
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* usec, const char* pid,
                                                           int own_pid) {
  if (usec == nullptr || *usec == '\0') return std::nullopt;
  if (pid != nullptr && *pid != '\0') {
    int p = 0;
    auto [end, ec] = std::from_chars(pid, pid + std::strlen(pid), p);
    if (ec != std::errc() || *end != '\0' || p != own_pid) return std::nullopt;
  }
  unsigned long long v = 0;
  auto [end, ec] = std::from_chars(usec, usec + std::strlen(usec), v);
  if (ec != std::errc() || *end != '\0' || v == 0) return std::nullopt;
  return std::chrono::microseconds(static_cast<long long>(v / 2));
}

Notifier Notifier::from_environment() {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  Notifier n(sock != nullptr ? sock : "");
  n.watchdog_ = watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                                  static_cast<int>(getpid()));
  if (!n.enabled()) n.watchdog_.reset();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  return n;
}

Notifier::Notifier(std::string notify_socket) {
  if (notify_socket.empty()) return;
  auto a = notify_address(notify_socket);
  if (!a) {
    log::warn("sd_notify_disabled", {{"error", a.error().message}});
    return;
  }
  fd_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd_) {
    log::warn("sd_notify_disabled", {{"error", std::strerror(errno)}});
    return;
  }
  address_ = *a;
}

Status Notifier::send(std::string_view message) {
  if (!address_) return ok();
  ssize_t n = sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&address_->addr), address_->length);
  if (n < 0) {
    return fail(Error::make(ErrorKind::kUnavailable,
                            fmt::format("sd_notify: {}", std::strerror(errno)), true));
  }
  return ok();
}

}  // namespace opfleet::supervisor
