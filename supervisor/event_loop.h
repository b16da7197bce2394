// The supervisor's single-threaded event loop: epoll over file descriptors (signalfd,
// the HTTP sockets) plus one timerfd for the next deadline. Callbacks run on the loop's
// thread, one after another; nothing runs in a signal handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "common/result.h"
#include "supervisor/child_table.h"
#include "supervisor/unique_fd.h"

namespace opfleet::supervisor {

class EventLoop {
 public:
  using Callback = std::function<void(std::uint32_t events)>;

  static Result<std::unique_ptr<EventLoop>> create();

  // Watches `fd` for `events` (EPOLLIN...). The loop does not own the fd; remove() it
  // before closing it.
  Status add(int fd, std::uint32_t events, Callback callback);
  Status modify(int fd, std::uint32_t events);
  // Safe inside a callback, also for an fd with events still pending in this round.
  void remove(int fd);

  // Waits until a watched fd is ready or `deadline` passes, then runs the callbacks of
  // what is ready. A deadline in the past returns at once.
  Status run_once(TimePoint deadline);

 private:
  EventLoop(UniqueFd epoll, UniqueFd timer) : epoll_(std::move(epoll)), timer_(std::move(timer)) {}

  struct Watch {
    int fd;
    std::shared_ptr<Callback> callback;
  };
  UniqueFd epoll_;
  UniqueFd timer_;
  // Keyed by a never-reused id (epoll's user data), not by fd: an fd closed and reused
  // by a new connection within one round must not receive the old fd's events.
  std::map<std::uint64_t, Watch> watches_;
  std::map<int, std::uint64_t> ids_by_fd_;
  std::uint64_t next_id_ = 1;
};

}  // namespace opfleet::supervisor
