// Latency summaries for the report: count, mean, max and nearest-rank percentiles.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace opfleet::loadsim {

struct LatencySummary {
  std::size_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// The p-th percentile (0 < p <= 100) of `sorted` by nearest rank: the smallest value with
// at least p% of the values at or below it. A sample of 20 has its p95 at the 19th value.
double percentile(const std::vector<double>& sorted, double p);

// Sorts a copy; non-finite and negative values (a clock step between hosts) are dropped.
LatencySummary summarize(std::vector<double> values_ms);

// {"count":N,"mean_ms":..,"p50_ms":..,"p95_ms":..,"p99_ms":..,"max_ms":..}; zeros when empty.
nlohmann::json to_json(const LatencySummary& s);

}  // namespace opfleet::loadsim
