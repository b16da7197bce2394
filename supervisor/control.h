// Talking to a running supervisor from another process (`opfleet drain/resume/status/
// scale`, the scaler's local actuator). The supervisor is found through its segment:
// the header names its pid and start time, so a recycled pid is never signalled.
//
// Commands are signals, which the supervisor reads from its signalfd:
//   drain (stay up)  SIGUSR1      resume        SIGUSR2
//   drain and exit   SIGTERM      scale to N    kScaleSignal (SIGRTMIN+1) carrying N
// Scaling uses a queued real-time signal with the count as its value (sigqueue), not a
// field the CLI writes into the segment: the header keeps a single writer (the
// supervisor), the request cannot be lost or merged the way repeated SIGTTIN/SIGTTOU can
// (standard signals coalesce), and the kernel checks that the sender may signal the
// supervisor (same user, or root). The supervisor acknowledges by publishing the new count
// in Header.desired_workers, which the CLI waits for.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "shm/segment.h"

namespace opfleet::supervisor {

// The real-time signal of a scale request (same binary on both ends, so SIGRTMIN agrees).
int scale_signal();

struct SupervisorLink {
  shm::SegmentHandle segment;
  pid_t pid = 0;
};

// kNotFound: no segment, so no supervisor runs the instance. kUnavailable: a segment
// whose supervisor is gone (a stale segment; the next supervisor rebuilds it).
Result<SupervisorLink> find_supervisor(std::string_view instance);

Status signal_supervisor(const SupervisorLink& link, int sig);
// Sends the scale request and waits until the supervisor has published it.
Status request_scale(const SupervisorLink& link, int workers, std::chrono::milliseconds timeout);

}  // namespace opfleet::supervisor
