#include "netfault/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::netfault {

namespace {

using Clock = SteadyClock;

std::string errno_text(int err) {
  return std::strerror(err);
}

// Closes with RST instead of FIN: the peer sees "connection reset", as when the host
// behind it is gone (kReject) or a partition ended its session (restore()).
void reset_close(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

void set_nodelay(int fd) {
  // The proxy relays whatever it reads at once; Nagle would add up to 40 ms per small
  // write (PostgreSQL's protocol is mostly small messages).
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<addrinfo*> resolve(const HostPort& hp, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return fail(
        Error::invalid(fmt::format("cannot resolve {}: {}", to_string(hp), ::gai_strerror(rc))));
  }
  return res;
}

}  // namespace

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::kPass:
      return "pass";
    case Mode::kBlackhole:
      return "blackhole";
    case Mode::kReject:
      return "reject";
  }
  return "pass";
}

std::optional<Mode> parse_mode(std::string_view text) {
  for (Mode m : {Mode::kPass, Mode::kBlackhole, Mode::kReject}) {
    if (text == to_string(m)) return m;
  }
  return std::nullopt;
}

Result<HostPort> parse_host_port(std::string_view text, bool allow_zero) {
  HostPort hp;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(Error::invalid(fmt::format("'{}' is not [address]:port", text)));
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(Error::invalid(fmt::format("'{}' is not host:port", text)));
    }
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) {
      return fail(
          Error::invalid(fmt::format("'{}': write IPv6 addresses as [address]:port", text)));
    }
    port_text = text.substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535 ||
      (port == 0 && !allow_zero) || hp.host.empty()) {
    return fail(Error::invalid(fmt::format("'{}': bad port '{}' (1..65535{})", text, port_text,
                                           allow_zero ? ", or 0 for a free one" : "")));
  }
  hp.port = port;
  return hp;
}

std::string to_string(const HostPort& hp) {
  if (hp.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", hp.host, hp.port);
  return fmt::format("{}:{}", hp.host, hp.port);
}

// One proxied connection: the client's socket and ours to the upstream, with one bounded
// buffer per direction. EOF on one side is forwarded as a half-close (shutdown(SHUT_WR))
// once that direction's buffer is flushed; the pair closes when both directions are done.
struct TcpProxy::Conn {
  int client = -1;
  int upstream = -1;  // -1: not connected yet (accepted while blackholed)
  bool connecting = false;
  Clock::time_point connect_deadline{};
  bool held = false;  // open while blackholed: restore() resets it
  bool dead = false;
  std::string to_upstream;
  std::string to_client;
  bool client_eof = false;
  bool upstream_eof = false;
  bool upstream_shut = false;
  bool client_shut = false;
};

Result<std::unique_ptr<TcpProxy>> TcpProxy::start(TcpProxyOptions options) {
  if (options.upstream.host.empty() || options.upstream.port <= 0) {
    return fail(Error::invalid("netfault: no upstream host:port"));
  }
  OPFLEET_TRY(addrinfo * up, resolve(options.upstream, false));
  sockaddr_storage upstream{};
  std::memcpy(&upstream, up->ai_addr, up->ai_addrlen);
  auto upstream_len = static_cast<socklen_t>(up->ai_addrlen);
  ::freeaddrinfo(up);

  OPFLEET_TRY(addrinfo * la, resolve(options.listen, true));
  int fd = ::socket(la->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    ::freeaddrinfo(la);
    return fail(Error::internal("netfault: socket: " + errno_text(err)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, la->ai_addr, la->ai_addrlen);
  int err = errno;
  ::freeaddrinfo(la);
  if (rc != 0 || ::listen(fd, 128) != 0) {
    if (rc == 0) err = errno;
    ::close(fd);
    return fail(Error::make(err == EADDRINUSE ? ErrorKind::kConflict : ErrorKind::kInvalid,
                            fmt::format("netfault: cannot listen on {}: {}",
                                        to_string(options.listen), errno_text(err))));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    err = errno;
    ::close(fd);
    return fail(Error::internal("netfault: eventfd: " + errno_text(err)));
  }
  std::unique_ptr<TcpProxy> p(
      new TcpProxy(std::move(options), fd, port, wake, upstream, upstream_len));
  p->thread_ = std::thread([raw = p.get()] { raw->loop(); });
  return p;
}

TcpProxy::TcpProxy(TcpProxyOptions options, int listen_fd, int port, int wake_fd,
                   const sockaddr_storage& upstream, socklen_t upstream_len)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      port_(port),
      wake_fd_(wake_fd),
      upstream_addr_(upstream),
      upstream_len_(upstream_len) {}

TcpProxy::~TcpProxy() {
  stop();
}

void TcpProxy::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  applied_cv_.notify_all();
}

void TcpProxy::set_mode(Mode mode) {
  request({mode, false});
}

void TcpProxy::restore() {
  request({Mode::kPass, true});
}

void TcpProxy::request(Request r) {
  std::unique_lock lock(mu_);
  if (stopping_ || !thread_.joinable()) return;
  // Concurrent requests coalesce: the last mode wins, a reset asked by anyone is kept.
  if (pending_ && pending_->reset_held) r.reset_held = true;
  pending_ = r;
  std::uint64_t ticket = ++requested_;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  applied_cv_.wait(lock, [&] { return applied_ >= ticket || stopping_; });
}

ProxyCounters TcpProxy::counters() const {
  ProxyCounters c;
  c.accepted = accepted_.load();
  c.active = active_.load();
  c.reset = reset_.load();
  c.upstream_failures = upstream_failures_.load();
  c.bytes_to_upstream = bytes_to_upstream_.load();
  c.bytes_to_client = bytes_to_client_.load();
  return c;
}

void TcpProxy::loop() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<pollfd> pfds;

  auto close_pair = [&](Conn& c, bool reset) {
    if (c.dead) return;
    active_--;  // counted first: whoever sees the close also sees the counters
    if (reset) {
      reset_++;
      reset_close(c.client);
      reset_close(c.upstream);
    } else {
      if (c.client >= 0) ::close(c.client);
      if (c.upstream >= 0) ::close(c.upstream);
    }
    c.client = c.upstream = -1;
    c.dead = true;
  };

  auto start_connect = [&](Conn& c) {
    int fd = ::socket(upstream_addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      upstream_failures_++;
      close_pair(c, true);
      return;
    }
    set_nodelay(fd);
    c.upstream = fd;
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&upstream_addr_), upstream_len_);
    if (rc == 0) return;
    if (errno == EINPROGRESS) {
      c.connecting = true;
      c.connect_deadline = Clock::now() + options_.connect_timeout;
      return;
    }
    upstream_failures_++;
    log::debug("netfault_upstream_connect_failed", {{"error", errno_text(errno)}});
    close_pair(c, true);
  };

  // Moves bytes one way: read what fits from `from` into `buf`, write what `to` takes.
  // Returns false when the pair must close (a socket error).
  auto pump = [&](int from, int to, std::string& buf, bool& from_eof, bool& to_shut,
                  std::atomic<std::uint64_t>& counter) {
    char chunk[16 * 1024];
    while (!from_eof && buf.size() < kBufferBytes) {
      std::size_t want = std::min(sizeof chunk, kBufferBytes - buf.size());
      ssize_t n = ::recv(from, chunk, want, 0);
      if (n > 0) {
        // Counted when read, before any of it can reach the other side: an observer that
        // saw the bytes arrive also sees them counted.
        counter += static_cast<std::uint64_t>(n);
        buf.append(chunk, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < want) break;
        continue;
      }
      if (n == 0) {
        from_eof = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return false;
    }
    while (!buf.empty()) {
      ssize_t n = ::send(to, buf.data(), buf.size(), MSG_NOSIGNAL);
      if (n > 0) {
        buf.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    if (from_eof && buf.empty() && !to_shut) {
      ::shutdown(to, SHUT_WR);
      to_shut = true;
    }
    return true;
  };

  for (;;) {
    const Mode mode = mode_.load();
    const auto now = Clock::now();
    int timeout_ms = -1;
    pfds.clear();
    pfds.push_back({wake_fd_, POLLIN, 0});
    pfds.push_back({listen_fd_, POLLIN, 0});
    for (auto& cp : conns) {
      Conn& c = *cp;
      short ce = 0;
      short ue = 0;
      if (mode == Mode::kPass) {
        if (c.connecting) {
          ue = POLLOUT;
          auto left = std::chrono::duration_cast<Millis>(c.connect_deadline - now).count();
          int ms = static_cast<int>(std::max<long>(0, left) + 1);
          timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
        } else {
          if (!c.client_eof && c.to_upstream.size() < kBufferBytes) ce |= POLLIN;
          if (!c.upstream_eof && c.to_client.size() < kBufferBytes) ue |= POLLIN;
          if (!c.to_upstream.empty()) ue |= POLLOUT;
          if (!c.to_client.empty()) ce |= POLLOUT;
        }
      }
      // A socket with nothing to wait for is left out (fd -1 makes poll skip it): poll
      // would report its hang-up or error for ever. The pump meets such a condition as
      // soon as it reads or writes that socket again. A blackholed pair is not polled at
      // all: even a hang-up waits for the partition to end, as it would on the wire.
      pfds.push_back({ce != 0 ? c.client : -1, ce, 0});
      pfds.push_back({ue != 0 ? c.upstream : -1, ue, 0});
    }
    int n = ::poll(pfds.data(), pfds.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("netfault_poll_failed", {{"error", errno_text(errno)}});
      break;
    }

    if ((pfds[0].revents & POLLIN) != 0) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
      std::optional<Request> req;
      std::uint64_t ticket = 0;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        req = pending_;
        pending_.reset();
        ticket = requested_;
      }
      if (req) {
        const Mode before = mode_.load();
        for (auto& cp : conns) {
          Conn& c = *cp;
          if (req->mode == Mode::kReject || (req->reset_held && c.held)) {
            close_pair(c, true);
          } else if (req->mode == Mode::kBlackhole) {
            c.held = true;
          } else {
            c.held = false;
          }
        }
        mode_ = req->mode;
        if (before != req->mode || req->reset_held) {
          log::info("netfault_mode", {{"from", to_string(before)},
                                      {"to", to_string(req->mode)},
                                      {"reset_held", req->reset_held},
                                      {"listen_port", port_}});
        }
      }
      {
        std::lock_guard lock(mu_);
        applied_ = std::max(applied_, ticket);
      }
      applied_cv_.notify_all();
      // The poll results below were taken under the old mode: poll again.
      std::erase_if(conns, [](const auto& c) { return c->dead; });
      continue;
    }

    if ((pfds[1].revents & POLLIN) != 0) {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          // EAGAIN: no more waiting. EMFILE and the like: leave the rest in the backlog.
          break;
        }
        accepted_++;
        if (mode == Mode::kReject) {
          reset_++;
          reset_close(fd);
          continue;
        }
        set_nodelay(fd);
        auto c = std::make_unique<Conn>();
        c->client = fd;
        active_++;
        if (mode == Mode::kBlackhole) {
          c->held = true;  // accepted, then silence: connect upstream only when it heals
        } else {
          start_connect(*c);
        }
        conns.push_back(std::move(c));
      }
    }

    const auto after = Clock::now();
    // Entries 2.. match the connections that existed when pfds was built.
    const std::size_t polled = (pfds.size() - 2) / 2;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = *conns[i];
      if (c.dead || mode != Mode::kPass) continue;
      if (c.upstream < 0) {
        // Accepted during a blackhole that ended without restore(): connect now.
        start_connect(c);
        continue;
      }
      if (i >= polled) continue;  // accepted in this round: polled next time
      const short cr = pfds[2 + 2 * i].revents;
      const short ur = pfds[3 + 2 * i].revents;
      if (c.connecting) {
        if ((ur & (POLLOUT | POLLERR | POLLHUP)) != 0) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            upstream_failures_++;
            log::debug("netfault_upstream_connect_failed", {{"error", errno_text(err)}});
            close_pair(c, true);
            continue;
          }
          c.connecting = false;
        } else if (after >= c.connect_deadline) {
          upstream_failures_++;
          log::debug("netfault_upstream_connect_timeout", {});
          close_pair(c, true);
          continue;
        } else {
          continue;
        }
      }
      if ((cr | ur) == 0 && c.to_upstream.empty() && c.to_client.empty()) continue;
      if (!pump(c.client, c.upstream, c.to_upstream, c.client_eof, c.upstream_shut,
                bytes_to_upstream_) ||
          !pump(c.upstream, c.client, c.to_client, c.upstream_eof, c.client_shut,
                bytes_to_client_)) {
        close_pair(c, true);
        continue;
      }
      if (c.client_eof && c.upstream_eof && c.to_upstream.empty() && c.to_client.empty()) {
        close_pair(c, false);
      }
    }
    std::erase_if(conns, [](const auto& c) { return c->dead; });
  }

  for (auto& c : conns) close_pair(*c, false);
  std::lock_guard lock(mu_);
  applied_ = requested_;
  applied_cv_.notify_all();
}

}  // namespace opfleet::netfault
