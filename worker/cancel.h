// Stopping an op that is running on a slot thread, for three reasons:
//   - shutdown/hand-back: the worker asks (cancel()),
//   - self-fencing: the PostgreSQL lease could not be renewed, so the op must stop before
//     the lease expires and another worker may start the same key. The coordinator moves
//     the fence deadline forward after each successful renewal; the op thread itself
//     enforces it, so a coordinator stuck in a network call cannot let the op overrun.
//   - the op's own timeout (command ops).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>

namespace opfleet::worker {

enum class StopReason { kNone, kCancelled, kFenced };

class CancelToken {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CancelToken(Clock::time_point fence_deadline)
      : fence_deadline_(fence_deadline), event_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~CancelToken() {
    if (event_fd_ >= 0) ::close(event_fd_);
  }
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void cancel() {
    std::lock_guard lock(mu_);
    if (reason_ == StopReason::kNone) reason_ = StopReason::kCancelled;
    cv_.notify_all();
    signal_fd();
  }

  // The lease was lost (taken over, or renewal refused): stop now.
  void fence() {
    std::lock_guard lock(mu_);
    if (reason_ == StopReason::kNone) reason_ = StopReason::kFenced;
    cv_.notify_all();
    signal_fd();
  }

  // Called by the coordinator after a successful lease renewal.
  void extend_fence(Clock::time_point deadline) {
    std::lock_guard lock(mu_);
    if (deadline > fence_deadline_) fence_deadline_ = deadline;
    cv_.notify_all();
    signal_fd();
  }

  // Readable whenever cancel() or extend_fence() was called: ops that wait in poll()
  // (command ops) include it and call drain_event() then check().
  int event_fd() const { return event_fd_; }
  void drain_event() {
    std::uint64_t v = 0;
    if (event_fd_ >= 0) [[maybe_unused]] auto n = ::read(event_fd_, &v, sizeof v);
  }

  Clock::time_point fence_deadline() const {
    std::lock_guard lock(mu_);
    return fence_deadline_;
  }

  // Sleeps until `until`, or returns early with the reason the op must stop.
  StopReason wait_until(Clock::time_point until) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (reason_ != StopReason::kNone) return reason_;
      auto now = Clock::now();
      if (now >= fence_deadline_) {
        reason_ = StopReason::kFenced;
        return reason_;
      }
      if (now >= until) return StopReason::kNone;
      cv_.wait_until(lock, std::min(until, fence_deadline_));
    }
  }

  // Non-blocking check (command ops poll it between reads).
  StopReason check() {
    std::lock_guard lock(mu_);
    if (reason_ == StopReason::kNone && Clock::now() >= fence_deadline_) {
      reason_ = StopReason::kFenced;
    }
    return reason_;
  }

 private:
  void signal_fd() {
    std::uint64_t one = 1;
    if (event_fd_ >= 0) [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  StopReason reason_ = StopReason::kNone;
  Clock::time_point fence_deadline_;
  int event_fd_;
};

}  // namespace opfleet::worker
