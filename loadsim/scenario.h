// What a load simulation does (`opfleet loadsim`, docs/loadsim.md): the submission
// pattern (rate, bursts, job mix, arrival process) and the faults injected into the fleet
// while it runs (workers killed, network partitions). A scenario is one of the built-in
// ones (steady, burst, mixed, worker-failure, network-partition), a JSON scenario file,
// or either of them with fields overridden by flags.
//
// Built-in defaults are fractions of the duration (worker-failure kills every quarter of
// it, network-partition cuts both services from 30% to 55%), so that a 10-second test and
// a 10-minute soak are the same shape. Everything here is pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "scaler/fault_injector.h"

namespace opfleet::loadsim {

using Millis = std::chrono::milliseconds;
using scaler::PartitionTarget;

// One job of the mix and its share (weights need not sum to 1; they are normalised).
struct JobShare {
  std::string job;
  double weight = 0;
  friend bool operator==(const JobShare&, const JobShare&) = default;
};

enum class Arrivals {
  kUniform,  // evenly spaced at the current rate: the same scenario submits the same runs
  kPoisson,  // exponential gaps (seeded): clumps and lulls, as independent users make them
};
const char* to_string(Arrivals a);

// Bursts: from `start`, every `every`, the rate is multiplied by `factor` for `length`.
struct Burst {
  Millis every{0};  // 0: no bursts
  Millis length{0};
  Millis start{0};
  double factor = 5;
  bool enabled() const { return every.count() > 0 && length.count() > 0; }
  bool active_at(Millis t) const;
  friend bool operator==(const Burst&, const Burst&) = default;
};

// One network partition: the workers' proxies to `target` cut from `at` for `length`.
struct PartitionWindow {
  Millis at{0};
  Millis length{0};
  PartitionTarget target = PartitionTarget::kBoth;
  std::string mode = "blackhole";  // or "reject": the service refuses instead of vanishing
  friend bool operator==(const PartitionWindow&, const PartitionWindow&) = default;
};

struct Scenario {
  std::string name;
  std::string description;
  Millis duration{60000};  // submissions stop after this; the simulation then waits
  double rate = 1.0;       // runs submitted per second outside bursts
  std::vector<JobShare> mix;
  double time_scale = 1.0;  // multiplies every op duration (runs.time_scale)
  Arrivals arrivals = Arrivals::kUniform;
  std::uint64_t seed = 1;  // Poisson gaps
  Burst burst;
  // Worker kills: at each of kill_at, and every kill_every from kill_start while
  // submitting; kill_count workers each time (one SIGKILL per worker, busy ones first).
  std::vector<Millis> kill_at;
  Millis kill_every{0};
  Millis kill_start{0};
  int kill_count = 1;
  std::vector<PartitionWindow> partitions;

  bool needs_workers_to_kill() const { return !kill_at.empty() || kill_every.count() > 0; }
  bool needs_partition_control(PartitionTarget t) const;
  // The end of the last fault window (or the duration, whichever is later).
  Millis last_event() const;
  // kInvalid, naming the field: non-positive duration or rate, empty mix, bad weights,
  // a burst longer than its period, overlapping partitions, a kill count below 1...
  Status validate() const;
};

// The built-in scenarios.
std::vector<std::string> builtin_names();
// `name` with the defaults for `duration`; kInvalid for an unknown name.
Result<Scenario> builtin(std::string_view name, Millis duration);

// Field overrides, from flags (each set one wins over the scenario's).
struct Overrides {
  std::optional<Millis> duration;
  std::optional<double> rate;
  std::optional<std::vector<JobShare>> mix;
  std::optional<double> time_scale;
  std::optional<Arrivals> arrivals;
  std::optional<std::uint64_t> seed;
  std::optional<Millis> kill_every;
  std::optional<Millis> kill_start;
  std::optional<int> kill_count;
  std::vector<Millis> kill_at;              // added
  std::vector<PartitionWindow> partitions;  // replace the scenario's when not empty
};

// A built-in by name (its defaults computed for the overridden duration, if any), or a
// scenario file's JSON, then the overrides, then validate().
Result<Scenario> make_scenario(std::string_view builtin_name, const Overrides& overrides);
Result<Scenario> make_scenario(const nlohmann::json& file, std::string_view file_name,
                               const Overrides& overrides);

// "fast_job=0.7,slow_job=0.2,mixed_job=0.1"
Result<std::vector<JobShare>> parse_mix(std::string_view text);
// "AT+LENGTH[:sqs|pg|both[:blackhole|reject]]", e.g. "20s+10s:sqs".
Result<PartitionWindow> parse_partition(std::string_view text);
// "10s,25s,40s"
Result<std::vector<Millis>> parse_times(std::string_view text);

// The scenario as a scenario file would write it (the report embeds it): durations as
// text ("1m30s"), so that it reads back to the same scenario.
nlohmann::json to_json(const Scenario& s);

}  // namespace opfleet::loadsim
