#include "loadsim/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace opfleet::loadsim {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const auto index = static_cast<std::size_t>(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
  return sorted[index];
}

LatencySummary summarize(std::vector<double> values_ms) {
  std::erase_if(values_ms, [](double v) { return !std::isfinite(v) || v < 0; });
  LatencySummary s;
  if (values_ms.empty()) return s;
  std::sort(values_ms.begin(), values_ms.end());
  s.count = values_ms.size();
  s.mean_ms = std::accumulate(values_ms.begin(), values_ms.end(), 0.0) /
              static_cast<double>(values_ms.size());
  s.p50_ms = percentile(values_ms, 50);
  s.p95_ms = percentile(values_ms, 95);
  s.p99_ms = percentile(values_ms, 99);
  s.max_ms = values_ms.back();
  return s;
}

nlohmann::json to_json(const LatencySummary& s) {
  const auto r = [](double v) { return std::round(v * 10) / 10; };  // 0.1 ms is plenty
  return {{"count", s.count},      {"mean_ms", r(s.mean_ms)}, {"p50_ms", r(s.p50_ms)},
          {"p95_ms", r(s.p95_ms)}, {"p99_ms", r(s.p99_ms)},   {"max_ms", r(s.max_ms)}};
}

}  // namespace opfleet::loadsim
