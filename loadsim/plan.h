// A scenario turned into a timeline: every submission (when, which job) and every fault
// action (when, what), in time order. Pure and deterministic for a given scenario (the
// Poisson gaps come from the scenario's seed), so tests check the shape of a load without
// running it, and the simulator only has to play the timeline.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loadsim/scenario.h"

namespace opfleet::loadsim {

struct Arrival {
  Millis at{0};
  std::string job;
};

// Submissions in [0, duration): at `rate` runs per second, `burst.factor` times that
// during bursts; jobs interleaved in the mix's proportions by smooth weighted round
// robin (nginx's upstream algorithm), so any prefix of the plan is as close to the mix as
// whole runs allow.
std::vector<Arrival> plan_arrivals(const Scenario& s);

enum class ActionKind { kKillWorkers, kPartitionStart, kPartitionEnd };
const char* to_string(ActionKind kind);

struct FaultAction {
  Millis at{0};
  ActionKind kind = ActionKind::kKillWorkers;
  int count = 1;           // kKillWorkers: how many workers
  std::size_t window = 0;  // kPartition*: index into Scenario::partitions
};

// Kills (kill_at, and every kill_every from kill_start while t < duration), partition
// starts and ends; sorted by time, an end before a start at the same instant.
std::vector<FaultAction> plan_faults(const Scenario& s);

}  // namespace opfleet::loadsim
