#include "netfault/control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace opfleet::netfault {

namespace {

using Clock = SteadyClock;

// A command line longer than this is not one of ours: the connection is closed.
constexpr std::size_t kMaxLine = 256;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail(
        Error::invalid(fmt::format("control socket path '{}' is empty or longer than {} "
                                   "bytes",
                                   path, sizeof addr.sun_path - 1)));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

std::string status_json(const TcpProxy& proxy) {
  const ProxyCounters c = proxy.counters();
  nlohmann::json j = {{"mode", to_string(proxy.mode())},
                      {"listen_port", proxy.port()},
                      {"upstream", to_string(proxy.options().upstream)},
                      {"accepted", c.accepted},
                      {"active", c.active},
                      {"reset", c.reset},
                      {"upstream_failures", c.upstream_failures},
                      {"bytes_to_upstream", c.bytes_to_upstream},
                      {"bytes_to_client", c.bytes_to_client}};
  return j.dump();
}

std::string handle_command(TcpProxy& proxy, std::string_view line) {
  const std::string_view cmd = trim(line);
  if (cmd == "status") return "ok " + status_json(proxy);
  if (cmd == "restore") {
    proxy.restore();
    return "ok pass";
  }
  if (auto mode = parse_mode(cmd)) {
    proxy.set_mode(*mode);
    return fmt::format("ok {}", to_string(*mode));
  }
  return fmt::format("error unknown command '{}' (pass, blackhole, reject, restore, status)",
                     cmd.substr(0, 64));
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(std::string path, TcpProxy& proxy) {
  OPFLEET_TRY(sockaddr_un addr, unix_address(path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(Error::invalid(
          fmt::format("control path '{}' exists and is not a socket: not replacing it", path)));
    }
    // A socket file outlives a killed process; nobody can be listening on it if connect
    // fails, so it is stale. A live one is an error (two proxies, one control path).
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) ::close(probe);
    if (live) {
      return fail(
          Error::make(ErrorKind::kConflict,
                      fmt::format("control socket '{}' is in use by another process", path)));
    }
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Error::internal(fmt::format("socket: {}", std::strerror(errno))));
  // Only the owner may drive the proxy: the socket file is created 0600 (bind applies
  // the umask to the file it creates).
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::umask(old);
  if (rc != 0 || ::listen(fd, 16) != 0) {
    if (rc == 0) err = errno;
    ::close(fd);
    return fail(Error::invalid(
        fmt::format("cannot listen on control socket '{}': {}", path, std::strerror(err))));
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return fail(Error::internal(fmt::format("eventfd: {}", std::strerror(err))));
  }
  std::unique_ptr<ControlServer> s(new ControlServer(std::move(path), fd, wake, proxy));
  s->thread_ = std::thread([raw = s.get()] { raw->loop(); });
  return s;
}

ControlServer::ControlServer(std::string path, int listen_fd, int wake_fd, TcpProxy& proxy)
    : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd), proxy_(proxy) {}

ControlServer::~ControlServer() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  ::unlink(path_.c_str());
}

void ControlServer::loop() {
  std::map<int, std::string> clients;  // fd -> bytes read so far
  auto drop = [&](int fd) {
    ::close(fd);
    clients.erase(fd);
  };
  for (;;) {
    std::vector<pollfd> pfds = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& [fd, buf] : clients) pfds.push_back({fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::error("netfault_control_poll_failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (pfds[0].revents != 0) break;
    if ((pfds[1].revents & POLLIN) != 0) {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        clients.emplace(fd, std::string());
      }
    }
    for (std::size_t i = 2; i < pfds.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      const int fd = pfds[i].fd;
      char chunk[512];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        drop(fd);
        continue;
      }
      std::string& buf = clients[fd];
      buf.append(chunk, static_cast<std::size_t>(n));
      bool closed = false;
      for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        std::string reply = handle_command(proxy_, line) + "\n";
        // Replies are short: a client that does not read them is dropped, not waited for.
        if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
            static_cast<ssize_t>(reply.size())) {
          closed = true;
          break;
        }
      }
      if (!closed && buf.size() > kMaxLine) closed = true;
      if (closed) drop(fd);
    }
  }
  for (const auto& [fd, buf] : clients) ::close(fd);
}

Result<std::string> send_command(const std::string& path, std::string_view command,
                                 Millis timeout) {
  OPFLEET_TRY(sockaddr_un addr, unix_address(path));
  const auto deadline = Clock::now() + timeout;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Error::internal(fmt::format("socket: {}", std::strerror(errno))));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(Error::network(
        fmt::format("cannot connect to control socket '{}': {}", path, std::strerror(errno))));
  }
  std::string line = std::string(command) + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return fail(Error::network(fmt::format("control socket '{}': send failed", path)));
  }
  std::string reply;
  for (;;) {
    auto nl = reply.find('\n');
    if (nl != std::string::npos) {
      reply.resize(nl);
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      return fail(Error::make(
          ErrorKind::kTimeout,
          fmt::format("control socket '{}': no reply in {} ms", path, timeout.count()), true));
    }
    char chunk[1024];
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return fail(Error::network(fmt::format("control socket '{}' closed without a reply", path)));
    }
    reply.append(chunk, static_cast<std::size_t>(got));
  }
  if (reply.starts_with("ok")) return std::string(trim(std::string_view(reply).substr(2)));
  if (reply.starts_with("error ")) return fail(Error::invalid(reply.substr(6)));
  return fail(Error::invalid(
      fmt::format("control socket '{}': unexpected reply '{}'", path, reply.substr(0, 128))));
}

}  // namespace opfleet::netfault
