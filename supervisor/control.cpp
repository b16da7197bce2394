#include "supervisor/control.h"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "common/proc.h"

namespace opfleet::supervisor {

int scale_signal() {
  return SIGRTMIN + 1;
}

Result<SupervisorLink> find_supervisor(std::string_view instance) {
  auto segment = shm::SegmentHandle::attach(instance);
  if (!segment) {
    if (segment.error().kind == ErrorKind::kNotFound) {
      return fail(Error::not_found(
          fmt::format("no supervisor runs instance '{}' (no shared-memory segment /dev/shm/{})",
                      instance, shm::segment_name(instance))));
    }
    return fail(segment.error());
  }
  const shm::Header& h = (*segment)->header;
  const pid_t pid = h.supervisor_pid.load();
  if (!process_alive(pid, h.supervisor_start_ticks.load())) {
    return fail(Error::make(ErrorKind::kUnavailable,
                            fmt::format("no supervisor runs instance '{}': its supervisor (pid {}) "
                                        "is gone and left a stale segment",
                                        instance, pid)));
  }
  return SupervisorLink{std::move(*segment), pid};
}

Status signal_supervisor(const SupervisorLink& link, int sig) {
  if (kill(link.pid, sig) != 0) {
    return fail(Error::make(
        errno == EPERM ? ErrorKind::kAuth : ErrorKind::kUnavailable,
        fmt::format("cannot signal supervisor pid {}: {}", link.pid, std::strerror(errno))));
  }
  return ok();
}

Status request_scale(const SupervisorLink& link, int workers, std::chrono::milliseconds timeout) {
  if (workers < 0 || workers > static_cast<int>(shm::kMaxWorkers)) {
    return fail(
        Error::invalid(fmt::format("--workers {}: must be 0..{}", workers, shm::kMaxWorkers)));
  }
  sigval v{};
  v.sival_int = workers;
  if (sigqueue(link.pid, scale_signal(), v) != 0) {
    return fail(Error::make(
        errno == EPERM ? ErrorKind::kAuth : ErrorKind::kUnavailable,
        fmt::format("cannot signal supervisor pid {}: {}", link.pid, std::strerror(errno))));
  }
  // The supervisor answers within one turn of its loop; poll its acknowledgement.
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (link.segment->header.desired_workers.load() != static_cast<std::uint32_t>(workers)) {
    if (std::chrono::steady_clock::now() >= end) {
      return fail(Error::make(ErrorKind::kTimeout,
                              fmt::format("supervisor pid {} did not take the request within {} ms",
                                          link.pid, timeout.count()),
                              true));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ok();
}

}  // namespace opfleet::supervisor
