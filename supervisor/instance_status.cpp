#include "supervisor/instance_status.h"

#include <algorithm>

#include <fmt/format.h>

#include "shm/claims.h"

namespace opfleet::supervisor {

namespace {

double age_s(std::uint64_t now_ns, std::uint64_t then_ns) {
  if (then_ns == 0 || then_ns > now_ns) return 0;
  return static_cast<double>(now_ns - then_ns) / 1e9;
}

}  // namespace

const char* to_string(shm::WorkerState s) {
  switch (s) {
    case shm::WorkerState::kFree:
      return "free";
    case shm::WorkerState::kStarting:
      return "starting";
    case shm::WorkerState::kRunning:
      return "running";
    case shm::WorkerState::kDraining:
      return "draining";
    case shm::WorkerState::kExited:
      return "exited";
  }
  return "unknown";
}

std::uint64_t InstanceStatus::ops_in_flight() const {
  std::uint64_t n = 0;
  for (const auto& w : workers) n += w.claims.size();
  return n;
}

int InstanceStatus::workers_in(std::string_view state) const {
  return static_cast<int>(std::count_if(workers.begin(), workers.end(),
                                        [&](const WorkerView& w) { return w.state == state; }));
}

std::uint32_t count_claims(const shm::WorkerSlot& worker) {
  std::uint32_t n = 0;
  for (const auto& c : worker.claims) {
    if (c.state.load(std::memory_order_relaxed) ==
        static_cast<std::uint32_t>(shm::ClaimState::kClaimed))
      ++n;
  }
  return n;
}

InstanceStatus read_status(const shm::Segment& segment, std::string instance,
                           std::uint64_t now_ns) {
  InstanceStatus s;
  s.instance = std::move(instance);
  const shm::Header& h = segment.header;
  s.supervisor_pid = h.supervisor_pid.load();
  s.receiving = h.receiving.load() != 0;
  s.desired_workers = h.desired_workers.load();
  s.claims_recovered = h.recoveries.load();
  s.worker_restarts = h.worker_restarts.load();
  for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
    const shm::WorkerSlot& ws = segment.workers[i];
    auto state = static_cast<shm::WorkerState>(ws.state.load(std::memory_order_acquire));
    if (state == shm::WorkerState::kFree) continue;
    WorkerView w;
    w.index = i;
    w.pid = ws.pid.load();
    w.state = to_string(state);
    w.generation = ws.generation.load();
    w.heartbeat_age_s = age_s(now_ns, ws.heartbeat_ns.load());
    w.uptime_s = age_s(now_ns, ws.started_ns.load());
    w.slots_total = ws.slots_total.load();
    w.slots_busy = ws.slots_busy.load();
    w.ops_started = ws.ops_started.load();
    w.ops_succeeded = ws.ops_succeeded.load();
    w.ops_failed = ws.ops_failed.load();
    w.ops_handed_back = ws.ops_handed_back.load();
    w.duplicates_dropped = ws.duplicates_dropped.load();
    for (const auto& c : shm::read_claims(ws)) {
      w.claims.push_back({c.key, c.fencing_token, age_s(now_ns, c.claimed_at_ns)});
    }
    s.workers.push_back(std::move(w));
  }
  return s;
}

nlohmann::json to_json(const InstanceStatus& s) {
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& w : s.workers) {
    nlohmann::json claims = nlohmann::json::array();
    for (const auto& c : w.claims) {
      claims.push_back({{"key", c.key}, {"fencing_token", c.fencing_token}, {"age_s", c.age_s}});
    }
    workers.push_back({{"index", w.index},
                       {"pid", w.pid},
                       {"state", w.state},
                       {"generation", w.generation},
                       {"heartbeat_age_s", w.heartbeat_age_s},
                       {"uptime_s", w.uptime_s},
                       {"slots_total", w.slots_total},
                       {"slots_busy", w.slots_busy},
                       {"ops_started", w.ops_started},
                       {"ops_succeeded", w.ops_succeeded},
                       {"ops_failed", w.ops_failed},
                       {"ops_handed_back", w.ops_handed_back},
                       {"duplicates_dropped", w.duplicates_dropped},
                       {"claims", claims}});
  }
  return {{"instance", s.instance},
          {"supervisor_pid", s.supervisor_pid},
          {"receiving", s.receiving},
          {"desired_workers", s.desired_workers},
          {"ops_in_flight", s.ops_in_flight()},
          {"claims_recovered", s.claims_recovered},
          {"worker_restarts", s.worker_restarts},
          {"workers", workers}};
}

std::string to_text(const InstanceStatus& s) {
  std::string out = fmt::format(
      "instance {}: supervisor pid {}, {} workers wanted, {} running, {}, {} ops in flight\n"
      "restarts {}, claims recovered {}\n",
      s.instance, s.supervisor_pid, s.desired_workers, s.workers_in("running"),
      s.receiving ? "receiving" : "paused (not receiving)", s.ops_in_flight(), s.worker_restarts,
      s.claims_recovered);
  if (s.workers.empty()) return out;
  out += fmt::format("\n{:>5} {:>8} {:<9} {:>4} {:>9} {:>6} {:>8} {:>8} {:>6} {:>7} {:>5}\n",
                     "slot", "pid", "state", "gen", "heartbeat", "busy", "started", "ok", "failed",
                     "handed", "dups");
  for (const auto& w : s.workers) {
    out += fmt::format(
        "{:>5} {:>8} {:<9} {:>4} {:>8.1f}s {:>3}/{:<2} {:>8} {:>8} {:>6} {:>7} {:>5}\n", w.index,
        w.pid, w.state, w.generation, w.heartbeat_age_s, w.slots_busy, w.slots_total, w.ops_started,
        w.ops_succeeded, w.ops_failed, w.ops_handed_back, w.duplicates_dropped);
  }
  bool any = false;
  for (const auto& w : s.workers) {
    for (const auto& c : w.claims) {
      if (!any) out += fmt::format("\n{:>5} {:>8} {:>8}  {}\n", "slot", "age", "token", "key");
      any = true;
      out += fmt::format("{:>5} {:>7.1f}s {:>8}  {}\n", w.index, c.age_s, c.fencing_token, c.key);
    }
  }
  return out;
}

}  // namespace opfleet::supervisor
