// A private SQS emulator (fauxqs) for one test: its own node process on 127.0.0.1 that the
// test can stop and start again on the same port, to play an SQS outage. The shared stack's
// emulator is never touched. Needs OPFLEET_NODE, OPFLEET_FAUXQS_WRAPPER and
// OPFLEET_FAUXQS_MODULES (from .stack/env); a missing one fails the test.
//
//   FauxqsProcess sqs;
//   sqs.start();                  // a free port; waits until the emulator listens
//   client_config.endpoint = sqs.endpoint();
//   sqs.stop();                   // SIGTERM, reaped
//   sqs.start(sqs.port());        // back, same port (and empty: fauxqs keeps no state)
//
// The emulator gets SIGTERM if the test process dies first (parent-death signal), so a
// crashed test leaves no emulator behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace opfleet::testing {

class FauxqsProcess {
 public:
  FauxqsProcess();   // makes a private temp dir; starts nothing
  ~FauxqsProcess();  // stop(), then removes the temp dir
  FauxqsProcess(const FauxqsProcess&) = delete;
  FauxqsProcess& operator=(const FauxqsProcess&) = delete;

  // Starts the emulator on `port` (0: a free one) and returns once it listens (the
  // wrapper writes the port file after listen()). Throws std::runtime_error, with the
  // emulator's output, if it exits or is not up within `timeout`.
  void start(int port = 0, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM and wait for the exit (SIGKILL after `grace`). No-op when not running.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  std::string output() const;    // everything the emulator printed so far

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int port_ = 0;
};

}  // namespace opfleet::testing
