#include <gtest/gtest.h>

#include <string>

#include "supervisor/metrics.h"

namespace opfleet::supervisor {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(HistogramTest, CountsCumulativelyPerUpperBound) {
  Histogram h({0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 2.0}) h.observe(v);
  EXPECT_EQ(h.cumulative(), (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 2.565);
}

TEST(MetricsTest, FormatsSampleValues) {
  EXPECT_EQ(format_sample(3), "3");
  EXPECT_EQ(format_sample(0.25), "0.25");
  EXPECT_EQ(format_sample(1.0 / 0.0), "+Inf");
}

TEST(MetricsTest, RendersEveryFamilyWithTypeAndHelp) {
  Histogram h = recovery_latency_histogram();
  h.observe(0.00390625);  // binary fractions: an exact sum
  h.observe(0.25);
  MetricsSnapshot m;
  m.workers_by_state = {{"running", 3}, {"waiting_restart", 1}};
  m.desired_workers = 4;
  m.healthy = false;
  m.ops_in_flight = 5;
  m.slots_total = 12;
  m.slots_busy = 5;
  m.ops_started = 10;
  m.ops_succeeded = 7;
  m.ops_failed = 1;
  m.ops_handed_back = 2;
  m.duplicates_dropped = 3;
  m.worker_restarts = 4;
  m.worker_exits = {{"crash", 4}};
  m.claims_recovered = 6;
  m.recovery_latency = &h;
  const std::string text = render_metrics(m);

  EXPECT_TRUE(has_line(text, "# TYPE opfleet_workers gauge")) << text;
  EXPECT_TRUE(has_line(text, "opfleet_workers{state=\"running\"} 3"));
  EXPECT_TRUE(has_line(text, "opfleet_workers{state=\"waiting_restart\"} 1"));
  EXPECT_TRUE(has_line(text, "opfleet_workers{state=\"starting\"} 0"));  // always present
  EXPECT_TRUE(has_line(text, "opfleet_workers_desired 4"));
  EXPECT_TRUE(has_line(text, "opfleet_healthy 0"));
  EXPECT_TRUE(has_line(text, "opfleet_ops_in_flight 5"));
  EXPECT_TRUE(has_line(text, "# TYPE opfleet_ops_started_total counter"));
  EXPECT_TRUE(has_line(text, "opfleet_ops_started_total 10"));
  EXPECT_TRUE(has_line(text, "opfleet_ops_succeeded_total 7"));
  EXPECT_TRUE(has_line(text, "opfleet_ops_failed_total 1"));
  EXPECT_TRUE(has_line(text, "opfleet_ops_handed_back_total 2"));
  EXPECT_TRUE(has_line(text, "opfleet_duplicates_dropped_total 3"));
  EXPECT_TRUE(has_line(text, "opfleet_worker_restarts_total 4"));
  EXPECT_TRUE(has_line(text, "opfleet_worker_exits_total{kind=\"crash\"} 4"));
  EXPECT_TRUE(has_line(text, "opfleet_worker_exits_total{kind=\"clean\"} 0"));
  EXPECT_TRUE(has_line(text, "opfleet_claims_recovered_total 6"));
  EXPECT_TRUE(has_line(text, "# TYPE opfleet_recovery_latency_seconds histogram"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_bucket{le=\"0.001\"} 0"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_bucket{le=\"0.005\"} 1"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_bucket{le=\"0.25\"} 2"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_count 2"));
  EXPECT_TRUE(has_line(text, "opfleet_recovery_latency_seconds_sum 0.25390625"));
  // Every sample line belongs to a declared family.
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix) && name.starts_with("opfleet_recovery_latency_seconds")) {
        name = "opfleet_recovery_latency_seconds";
      }
    }
    EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace opfleet::supervisor
