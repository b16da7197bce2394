#include "supervisor/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace opfleet::supervisor {

namespace {

Error sys_error(const char* what) {
  return Error::internal(fmt::format("{}: {}", what, std::strerror(errno)));
}

constexpr std::uint64_t kTimerId = 0;

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail(sys_error("epoll_create1"));
  UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer) return fail(sys_error("timerfd_create"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTimerId;
  if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, timer.get(), &ev) != 0)
    return fail(sys_error("epoll_ctl"));
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(ep), std::move(timer)));
}

Status EventLoop::add(int fd, std::uint32_t events, Callback callback) {
  const std::uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return fail(sys_error("epoll_ctl(ADD)"));
  watches_[id] = Watch{fd, std::make_shared<Callback>(std::move(callback))};
  ids_by_fd_[fd] = id;
  return ok();
}

Status EventLoop::modify(int fd, std::uint32_t events) {
  auto it = ids_by_fd_.find(fd);
  if (it == ids_by_fd_.end()) return fail(Error::internal("modify: fd not watched"));
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    return fail(sys_error("epoll_ctl(MOD)"));
  return ok();
}

void EventLoop::remove(int fd) {
  auto it = ids_by_fd_.find(fd);
  if (it == ids_by_fd_.end()) return;
  (void)epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it->second);
  ids_by_fd_.erase(it);
}

Status EventLoop::run_once(TimePoint deadline) {
  // steady_clock is CLOCK_MONOTONIC (libstdc++), the timerfd's clock.
  const auto since_epoch = deadline.time_since_epoch();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0)
    spec.it_value.tv_nsec = 1;  // 0 disarms
  if (timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    return fail(sys_error("timerfd_settime"));
  }
  epoll_event events[32];
  int n = epoll_wait(epoll_.get(), events, 32, -1);
  if (n < 0) {
    if (errno == EINTR) return ok();
    return fail(sys_error("epoll_wait"));
  }
  for (int i = 0; i < n; ++i) {
    const std::uint64_t id = events[i].data.u64;
    if (id == kTimerId) {
      std::uint64_t expirations = 0;
      (void)!read(timer_.get(), &expirations, sizeof expirations);
      continue;
    }
    auto it = watches_.find(id);
    if (it == watches_.end()) continue;   // removed earlier in this round
    auto callback = it->second.callback;  // keeps it alive if the callback removes itself
    (*callback)(events[i].events);
  }
  return ok();
}

}  // namespace opfleet::supervisor
