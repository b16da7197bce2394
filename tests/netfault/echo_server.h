// A loopback TCP echo server and small blocking-socket helpers for the netfault tests.
// The server echoes every byte back, and half-closes its side when the client does, so
// a test can tell a forwarded FIN from a reset.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace opfleet::netfault::testing {

class EchoServer {
 public:
  EchoServer();   // listens on 127.0.0.1, a free port; throws on failure
  ~EchoServer();  // stops accepting, closes every connection, joins the threads

  int port() const { return port_; }
  std::uint64_t connections() const { return connections_.load(); }
  std::uint64_t bytes() const { return bytes_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A blocking, close-on-exec TCP connection to 127.0.0.1:port; throws on failure.
int connect_loopback(int port);

// What became of a read that waited up to `timeout`.
struct ReadOutcome {
  enum Kind { kData, kTimeout, kEof, kReset, kError } kind = kTimeout;
  std::string data;
  int error = 0;
};
ReadOutcome read_some(int fd, std::chrono::milliseconds timeout);

// Reads exactly `n` bytes (or fails the calling test after `timeout`).
std::string read_exactly(int fd, std::size_t n, std::chrono::milliseconds timeout);

void send_all(int fd, const std::string& data);

}  // namespace opfleet::netfault::testing
