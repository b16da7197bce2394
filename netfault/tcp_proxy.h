// A fault-injecting TCP proxy: listens on a loopback port and forwards every connection to
// one upstream host:port, until told to misbehave. Tests and the failure simulations put it
// between a process and PostgreSQL (or SQS) to play a network fault at a chosen moment:
//
//   auto proxy = netfault::TcpProxy::start({.upstream = {"127.0.0.1", 5432}});
//   worker_db_url = "host=127.0.0.1 port=" + std::to_string((*proxy)->port()) + ...;
//   (*proxy)->set_mode(netfault::Mode::kBlackhole);   // partition: nothing moves
//   (*proxy)->restore();                              // healed: clients reconnect
//
// Modes (switchable at run time from any thread; set_mode returns once the proxy thread
// has applied the change, so no byte moves after set_mode(kBlackhole) returns):
//  - kPass: bytes flow both ways, half-closes are forwarded.
//  - kBlackhole: a dropped-packet partition as a client sees it. Open connections stay
//    open but no byte moves in either direction (what the peer sent waits in the socket
//    buffers); new connections are accepted and held silent. No RST, no FIN: the client
//    only notices through its own timeouts.
//  - kReject: the peer is gone. Open connections are reset (RST to the client, the
//    upstream side closed); new connections are accepted and reset at once.
// set_mode(kPass) after a blackhole resumes the held connections as a healed partition
// would (TCP retransmits: nothing is lost, only late). restore() is the clean variant the
// tests use: it resets the held connections so their clients reconnect, then passes.
//
// One thread runs a poll() loop over every socket; every descriptor is non-blocking and
// close-on-exec. Each direction of a connection buffers at most kBufferBytes, so a slow
// reader throttles its writer instead of growing memory.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "common/retry.h"

namespace opfleet::netfault {

enum class Mode { kPass, kBlackhole, kReject };

const char* to_string(Mode mode);
// "pass", "blackhole", "reject" (case-sensitive); nullopt otherwise.
std::optional<Mode> parse_mode(std::string_view text);

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port" or "[v6addr]:port"; port 0..65535 (0 only where `allow_zero`).
Result<HostPort> parse_host_port(std::string_view text, bool allow_zero = false);
std::string to_string(const HostPort& hp);

struct TcpProxyOptions {
  HostPort listen{"127.0.0.1", 0};  // port 0: a free port (see TcpProxy::port())
  HostPort upstream;
  // A connection whose upstream connect has not completed by then is reset.
  Millis connect_timeout{5000};
};

// Monotonic since start(), except `active`.
struct ProxyCounters {
  std::uint64_t accepted = 0;           // client connections accepted
  std::uint64_t active = 0;             // connection pairs open now (held ones included)
  std::uint64_t reset = 0;              // connections reset by kReject or restore()
  std::uint64_t upstream_failures = 0;  // upstream connects that failed or timed out
  // Read from the client to go upstream, and from the upstream to go to the client
  // (counted on reading, so bytes a reset discarded from a buffer are included).
  std::uint64_t bytes_to_upstream = 0;
  std::uint64_t bytes_to_client = 0;
};

class TcpProxy {
 public:
  static constexpr std::size_t kBufferBytes = 64 * 1024;

  // Binds and listens (errors come back here: port taken, bad address), resolves the
  // upstream, then starts the proxy thread.
  static Result<std::unique_ptr<TcpProxy>> start(TcpProxyOptions options);
  ~TcpProxy();  // stop()
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // The port actually listened on.
  int port() const { return port_; }
  const TcpProxyOptions& options() const { return options_; }

  // Thread-safe; returns once applied. Setting the current mode again changes nothing.
  void set_mode(Mode mode);
  // kPass, after resetting every connection held by a blackhole.
  void restore();
  Mode mode() const { return mode_.load(); }
  ProxyCounters counters() const;

  // Closes every connection and the listening socket, joins the thread. Idempotent.
  void stop();

 private:
  struct Conn;
  struct Request {
    Mode mode = Mode::kPass;
    bool reset_held = false;
  };

  TcpProxy(TcpProxyOptions options, int listen_fd, int port, int wake_fd,
           const sockaddr_storage& upstream, socklen_t upstream_len);
  void request(Request r);
  void loop();

  TcpProxyOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_fd_ = -1;                  // eventfd: wakes the loop for a mode change or stop()
  sockaddr_storage upstream_addr_{};  // resolved once, at start()
  socklen_t upstream_len_ = 0;

  std::atomic<Mode> mode_{Mode::kPass};
  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  std::optional<Request> pending_;  // guarded by mu_
  std::uint64_t requested_ = 0;     // guarded by mu_
  std::uint64_t applied_ = 0;       // guarded by mu_
  bool stopping_ = false;           // guarded by mu_

  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> active_{0};
  std::atomic<std::uint64_t> reset_{0};
  std::atomic<std::uint64_t> upstream_failures_{0};
  std::atomic<std::uint64_t> bytes_to_upstream_{0};
  std::atomic<std::uint64_t> bytes_to_client_{0};

  std::thread thread_;
};

}  // namespace opfleet::netfault
