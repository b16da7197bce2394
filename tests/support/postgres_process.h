// A private PostgreSQL server for tests that must stop and restart it (reconnection),
// which the shared stack server must never be. initdb into a fresh temp directory,
// listen on a free loopback port, trust authentication, user "opfleet".
//
// The postmaster runs as a direct child of the test process, not daemonised by pg_ctl,
// so it can carry PR_SET_PDEATHSIG: if the test binary dies (crash, ctest timeout), the
// server gets SIGQUIT (immediate shutdown) instead of living on. stop() is pg_ctl's
// "fast" shutdown (SIGINT to the postmaster) and start() brings it back on the same port
// and data. As root, initdb and postgres run as the `postgres` user (they refuse root).
// Construction failures throw std::runtime_error, which fails the test.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace opfleet::testing {

class PostgresProcess {
 public:
  PostgresProcess();   // initdb + start
  ~PostgresProcess();  // immediate shutdown, directory removed
  PostgresProcess(const PostgresProcess&) = delete;
  PostgresProcess& operator=(const PostgresProcess&) = delete;

  // Fast shutdown: sessions are terminated (clients see FATAL 57P01), then the server
  // exits; returns once it has.
  void stop();
  // Starts the stopped server again, same port and data; returns once it accepts
  // connections.
  void start();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  // postgresql://opfleet@127.0.0.1:<port>/<db>
  std::string url(std::string_view db = "postgres") const;
  const std::string& directory() const { return dir_; }

 private:
  void launch();
  void wait_ready();

  std::string bin_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool drop_privileges_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace opfleet::testing
