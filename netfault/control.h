// The control interface of `opfleet netfault` (docs/netfault.md): a UNIX stream socket
// taking one command per line and answering one line per command.
//
//   pass | blackhole | reject   ->  "ok <mode>"       (applied when the reply is sent)
//   restore                     ->  "ok pass"         (held connections reset, then pass)
//   status                      ->  "ok {json}"       (mode and counters)
//   anything else               ->  "error <why>"
//
// A stream socket rather than signals: the caller learns that the fault is in effect (the
// reply comes after the proxy thread applied it) and gets errors back; a datagram socket
// would need a bound client address for the reply.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "common/retry.h"
#include "netfault/tcp_proxy.h"

namespace opfleet::netfault {

// Executes one command line (without its newline) and returns the reply line (without
// its newline).
std::string handle_command(TcpProxy& proxy, std::string_view line);

// {"mode":"pass","listen_port":N,"accepted":N,"active":N,"reset":N,...}
std::string status_json(const TcpProxy& proxy);

// Serves the protocol on `path` from a thread of its own. The socket file is created
// with mode 0600 (it controls the proxy) and removed by the destructor. A stale socket
// file at `path` (left by a killed process) is replaced; any other file there is an error.
class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> start(std::string path, TcpProxy& proxy);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }

 private:
  ControlServer(std::string path, int listen_fd, int wake_fd, TcpProxy& proxy);
  void loop();

  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  TcpProxy& proxy_;
  std::thread thread_;
};

// Client side, for tests and the processes that drive a proxy (scaler failure simulation,
// load simulator): sends `command`, returns the reply after "ok " or the error ("error
// ..." replies are kInvalid; a missing or silent server is kNetwork/kTimeout, retryable).
Result<std::string> send_command(const std::string& path, std::string_view command,
                                 Millis timeout = Millis(5000));

}  // namespace opfleet::netfault
