// A stop request that a sleeping loop wakes up for at once (the scheduler sleeps on it
// until its next tick; the signal thread of `opfleet schedule` requests the stop).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace opfleet::scheduler {

class StopFlag {
 public:
  void request() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }

  bool requested() const {
    std::lock_guard lock(mu_);
    return stop_;
  }

  // Sleeps up to `d` (steady clock); true when a stop was requested (before or during).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stop_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace opfleet::scheduler
