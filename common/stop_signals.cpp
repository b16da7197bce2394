#include "common/stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include "common/log.h"

namespace opfleet {
namespace {

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

StopSignals::StopSignals(std::function<void(int sig)> on_stop) : on_stop_(std::move(on_stop)) {
  const sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (finished_.load()) return;
      log::info("signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"action", "stop"}});
      on_stop_(sig);
    }
  });
}

StopSignals::~StopSignals() {
  finished_ = true;
  // A signal of our own wakes the sigwait; the thread sees `finished_` and returns.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

}  // namespace opfleet
