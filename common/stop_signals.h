// SIGINT and SIGTERM as events on a thread of their own, for the commands that run until
// stopped (`opfleet schedule`, `opfleet loadsim`). The constructor blocks both signals in
// the calling thread, so it must run before any other thread exists: every thread
// created afterwards inherits the mask, and no handler ever interrupts a libpq or libcurl
// call. One thread takes them with sigwait and calls `on_stop` for each (it may be called
// again for a second signal). The destructor ends that thread.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace opfleet {

class StopSignals {
 public:
  explicit StopSignals(std::function<void(int sig)> on_stop);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  std::function<void(int)> on_stop_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace opfleet
