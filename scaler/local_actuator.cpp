#include "scaler/local_actuator.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/proc.h"
#include "scaler/ecs_actuator.h"
#include "shm/layout.h"
#include "supervisor/control.h"
#include "supervisor/instance_status.h"

namespace opfleet::scaler {

namespace {

using shm::WorkerState;

bool in_state(const shm::WorkerSlot& w, WorkerState s) {
  return w.state.load() == static_cast<std::uint32_t>(s);
}

// A missing or stale segment means the supervisor is down or restarting: retryable, the
// next poll may find it back.
Error unavailable(const std::string& instance, const Error& e) {
  Error out = Error::make(ErrorKind::kUnavailable,
                          fmt::format("supervisor '{}': {}", instance, e.message), true);
  return out;
}

Result<supervisor::SupervisorLink> find(const std::string& instance) {
  auto link = supervisor::find_supervisor(instance);
  if (!link) return fail(unavailable(instance, link.error()));
  return link;
}

// SIGKILL through a pidfd: once the pidfd is open it names that process for good, so
// checking the slot still shows the same pid afterwards rules out a recycled pid.
Status kill_pid_checked(const shm::WorkerSlot& slot, int pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    return fail(Error::not_found(fmt::format("worker pid {} is gone", pid)));
  }
  Status st;
  if (slot.pid.load() != pid) {
    st = fail(Error::not_found(fmt::format("worker pid {} left its slot", pid)));
  } else if (::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) != 0) {
    st = fail(Error::internal(fmt::format("SIGKILL of pid {} failed: errno {}", pid, errno)));
  }
  ::close(fd);
  return st;
}

}  // namespace

std::vector<int> spread(int n, std::size_t k) {
  std::vector<int> out(k, 0);
  if (k == 0) return out;
  const int kk = static_cast<int>(k);
  for (int i = 0; i < kk; ++i) out[static_cast<std::size_t>(i)] = n / kk + (i < n % kk ? 1 : 0);
  return out;
}

Result<LocalActuator> LocalActuator::make(LocalActuatorOptions options) {
  if (options.instances.empty()) {
    return fail(Error::invalid("the local actuator needs at least one supervisor instance"));
  }
  std::set<std::string> seen;
  for (const auto& i : options.instances) {
    if (i.empty()) return fail(Error::invalid("empty supervisor instance name"));
    if (!seen.insert(i).second) {
      return fail(Error::invalid(fmt::format("supervisor instance '{}' given twice", i)));
    }
  }
  if (!options.pick) options.pick = uniform_picker(std::random_device{}());
  if (!options.sleep) {
    options.sleep = [](Millis d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
  return LocalActuator(std::move(options));
}

Result<CapacityReading> LocalActuator::read() {
  CapacityReading r;
  for (const auto& instance : options_.instances) {
    OPFLEET_TRY(auto link, find(instance));
    const shm::Segment& s = *link.segment.get();
    r.desired += static_cast<int>(s.header.desired_workers.load());
    for (const auto& w : s.workers) {
      // A draining worker is being retired: it no longer counts as capacity.
      r.running += in_state(w, WorkerState::kRunning) ? 1 : 0;
      r.pending += in_state(w, WorkerState::kStarting) ? 1 : 0;
    }
  }
  return r;
}

Status LocalActuator::set_desired(int n, const std::string& /*reason*/) {
  if (n < 0) return fail(Error::invalid(fmt::format("desired worker count {} < 0", n)));
  // Look every supervisor up before asking any: a partial resize would leave the total
  // wrong in a way the next poll could not tell from a decision.
  std::vector<supervisor::SupervisorLink> links;
  for (const auto& instance : options_.instances) {
    OPFLEET_TRY(auto link, find(instance));
    links.push_back(std::move(link));
  }
  const auto counts = spread(n, links.size());
  for (std::size_t i = 0; i < links.size(); ++i) {
    const auto have = static_cast<int>(links[i].segment->header.desired_workers.load());
    if (have == counts[i]) continue;
    if (auto st = supervisor::request_scale(links[i], counts[i], options_.scale_timeout); !st) {
      Error e = st.error();
      e.message = fmt::format("supervisor '{}': {}", options_.instances[i], e.message);
      return fail(std::move(e));
    }
  }
  return ok();
}

Result<std::vector<LocalWorker>> LocalActuator::workers() const {
  std::vector<LocalWorker> out;
  for (const auto& instance : options_.instances) {
    auto link = supervisor::find_supervisor(instance);
    if (!link) continue;  // a down supervisor has no worker to list
    for (const auto& w : link->segment->workers) {
      if (!in_state(w, WorkerState::kRunning) || w.pid.load() <= 0) continue;
      out.push_back({instance, w.pid.load(), w.slots_busy.load()});
    }
  }
  return out;
}

Result<std::string> LocalActuator::kill_random_worker() {
  OPFLEET_TRY(auto all, workers());
  // A crash mid-op is the case worth simulating (claim recovery, retries); an idle worker
  // only when none is busy.
  std::vector<LocalWorker> busy;
  std::copy_if(all.begin(), all.end(), std::back_inserter(busy),
               [](const LocalWorker& w) { return w.slots_busy > 0; });
  const auto& pool = busy.empty() ? all : busy;
  if (pool.empty()) return fail(Error::not_found("no worker is running"));
  const LocalWorker victim = pool[options_.pick(pool.size()) % pool.size()];
  OPFLEET_TRY(auto link, find(victim.instance));
  for (const auto& w : link.segment->workers) {
    if (w.pid.load() != victim.pid) continue;
    OPFLEET_TRY_STATUS(kill_pid_checked(w, victim.pid));
    return fmt::format("{}/{}", victim.instance, victim.pid);
  }
  return fail(Error::not_found(fmt::format("worker pid {} left its slot", victim.pid)));
}

Result<std::uint64_t> LocalActuator::in_flight(const std::string& instance) const {
  std::uint64_t n = 0;
  for (const auto& name : targets(instance)) {
    OPFLEET_TRY(auto link, find(name));
    for (const auto& w : link.segment->workers) {
      n += std::max<std::uint64_t>(w.slots_busy.load(), supervisor::count_claims(w));
    }
  }
  return n;
}

std::vector<std::string> LocalActuator::targets(const std::string& target) const {
  if (target.empty()) return options_.instances;
  return {target};
}

Status LocalActuator::signal_all(const std::vector<std::string>& instances, int sig) const {
  std::optional<Error> first;
  // Every supervisor gets its signal even when one fails: a restore must reach all.
  for (const auto& name : instances) {
    auto link = find(name);
    Status st = link ? supervisor::signal_supervisor(*link, sig) : fail(link.error());
    if (!st && !first) first = st.error();
  }
  if (first) return fail(*first);
  return ok();
}

Result<DrainTicket> LocalActuator::drain(const DrainOptions& options) {
  DrainTicket t;
  t.scope = options.scope;
  if (options.scope == DrainScope::kHost) {
    t.target =
        options_.instances[options_.pick(options_.instances.size()) % options_.instances.size()];
  }
  OPFLEET_TRY_STATUS(signal_all(targets(t.target), SIGUSR1));
  const auto start = SteadyClock::now();
  const auto deadline = start + options.settle_timeout;
  while (true) {
    auto n = in_flight(t.target);
    if (!n) {
      t.wait_error = n.error();
      break;
    }
    if (*n == 0) {
      t.settled = true;
      break;
    }
    if (SteadyClock::now() >= deadline || !options_.sleep(options_.poll_interval)) break;
  }
  t.waited = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  return t;
}

Status LocalActuator::restore(const DrainTicket& ticket) {
  return signal_all(targets(ticket.target), SIGUSR2);
}

}  // namespace opfleet::scaler
