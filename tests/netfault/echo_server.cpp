#include "tests/netfault/echo_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>

namespace opfleet::netfault::testing {

namespace {

[[noreturn]] void sys_fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

EchoServer::EchoServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) sys_fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    sys_fail("bind/listen");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

EchoServer::~EchoServer() {
  stop_ = true;
  // shutdown() wakes the blocked accept() and recv() calls; close happens after the joins.
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  for (int fd : fds_) ::close(fd);
  ::close(listen_fd_);
}

void EchoServer::accept_loop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::lock_guard lock(mu_);
    if (stop_) {
      ::close(fd);
      return;
    }
    connections_++;
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void EchoServer::serve(int fd) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes_ += static_cast<std::uint64_t>(n);
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(fd, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      off += w;
    }
  }
  ::shutdown(fd, SHUT_WR);  // echo the client's half-close
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) sys_fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    sys_fail("connect");
  }
  return fd;
}

ReadOutcome read_some(int fd, std::chrono::milliseconds timeout) {
  ReadOutcome out;
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return out;  // kTimeout
  char buf[65536];
  ssize_t got = ::recv(fd, buf, sizeof buf, 0);
  if (got > 0) {
    out.kind = ReadOutcome::kData;
    out.data.assign(buf, static_cast<std::size_t>(got));
  } else if (got == 0) {
    out.kind = ReadOutcome::kEof;
  } else {
    out.error = errno;
    out.kind = errno == ECONNRESET ? ReadOutcome::kReset : ReadOutcome::kError;
  }
  return out;
}

std::string read_exactly(int fd, std::size_t n, std::chrono::milliseconds timeout) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ADD_FAILURE() << "read " << got.size() << " of " << n << " bytes before the timeout";
      break;
    }
    auto r = read_some(fd, left);
    if (r.kind != ReadOutcome::kData) {
      ADD_FAILURE() << "read ended (" << r.kind << ", errno " << r.error << ") after " << got.size()
                    << " of " << n << " bytes";
      break;
    }
    got += r.data;
  }
  return got;
}

void send_all(int fd, const std::string& data) {
  for (std::size_t off = 0; off < data.size();) {
    ssize_t w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) sys_fail("send");
    off += static_cast<std::size_t>(w);
  }
}

}  // namespace opfleet::netfault::testing
