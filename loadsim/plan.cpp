#include "loadsim/plan.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace opfleet::loadsim {
namespace {

// Smooth weighted round robin: each pick adds every weight to its counter, takes the
// largest counter and subtracts the total from it.
class MixPicker {
 public:
  explicit MixPicker(const std::vector<JobShare>& mix) : mix_(mix), current_(mix.size(), 0.0) {
    for (const auto& s : mix) total_ += s.weight;
  }
  const std::string& next() {
    std::size_t best = 0;
    for (std::size_t i = 0; i < mix_.size(); ++i) {
      current_[i] += mix_[i].weight;
      if (current_[i] > current_[best]) best = i;
    }
    current_[best] -= total_;
    return mix_[best].job;
  }

 private:
  const std::vector<JobShare>& mix_;
  std::vector<double> current_;
  double total_ = 0;
};

}  // namespace

std::vector<Arrival> plan_arrivals(const Scenario& s) {
  std::vector<Arrival> out;
  if (s.mix.empty() || !(s.rate > 0)) return out;
  MixPicker picker(s.mix);
  std::mt19937_64 rng(s.seed);
  std::exponential_distribution<double> exp1(1.0);
  // Time in microseconds, so that high rates do not round every gap to the same ms.
  const double end_us = static_cast<double>(s.duration.count()) * 1000.0;
  double t_us = 0;
  while (t_us < end_us) {
    const auto at = Millis(static_cast<std::int64_t>(t_us / 1000.0));
    out.push_back({at, picker.next()});
    const double rate = s.rate * (s.burst.active_at(at) ? s.burst.factor : 1.0);
    const double gap_s = s.arrivals == Arrivals::kPoisson ? exp1(rng) / rate : 1.0 / rate;
    double next = t_us + gap_s * 1e6;
    // A gap that would jump over a burst's start lands on it (uniform arrivals), so a
    // slow base rate does not skip the spike.
    if (s.burst.enabled() && s.arrivals == Arrivals::kUniform && !s.burst.active_at(at)) {
      const auto t_ms = static_cast<std::int64_t>(t_us / 1000.0);
      const std::int64_t every = s.burst.every.count();
      const std::int64_t start = s.burst.start.count();
      const std::int64_t k = t_ms < start ? 0 : (t_ms - start) / every + 1;
      const double next_burst_us = static_cast<double>(start + k * every) * 1000.0;
      if (next_burst_us > t_us && next_burst_us < next) next = next_burst_us;
    }
    t_us = next;
  }
  return out;
}

const char* to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::kKillWorkers:
      return "kill_worker";
    case ActionKind::kPartitionStart:
      return "partition";
    case ActionKind::kPartitionEnd:
      return "heal";
  }
  return "?";
}

std::vector<FaultAction> plan_faults(const Scenario& s) {
  std::vector<FaultAction> out;
  for (const auto& at : s.kill_at) out.push_back({at, ActionKind::kKillWorkers, s.kill_count, 0});
  if (s.kill_every.count() > 0) {
    for (Millis t = s.kill_start; t < s.duration; t += s.kill_every) {
      out.push_back({t, ActionKind::kKillWorkers, s.kill_count, 0});
    }
  }
  for (std::size_t i = 0; i < s.partitions.size(); ++i) {
    out.push_back({s.partitions[i].at, ActionKind::kPartitionStart, 0, i});
    out.push_back({s.partitions[i].at + s.partitions[i].length, ActionKind::kPartitionEnd, 0, i});
  }
  std::stable_sort(out.begin(), out.end(), [](const FaultAction& a, const FaultAction& b) {
    if (a.at != b.at) return a.at < b.at;
    return a.kind == ActionKind::kPartitionEnd && b.kind != ActionKind::kPartitionEnd;
  });
  return out;
}

}  // namespace opfleet::loadsim
