// The report from a known record: counts, percentiles, throughput, the verdict, the CSV
// and the chart's fault windows and marks.
#include <gtest/gtest.h>

#include "loadsim/report.h"
#include "loadsim/stats.h"

namespace opfleet::loadsim {
namespace {

using namespace std::chrono_literals;

TEST(Stats, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1; i <= 20; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 10);
  EXPECT_EQ(percentile(v, 95), 19);
  EXPECT_EQ(percentile(v, 99), 20);
  EXPECT_EQ(percentile(v, 100), 20);
  EXPECT_EQ(percentile({7}, 50), 7);
  const auto s = summarize({5, 1, 3, std::nan(""), -2, 2, 4});
  EXPECT_EQ(s.count, 5u);  // NaN and the negative value dropped
  EXPECT_EQ(s.p50_ms, 3);
  EXPECT_EQ(s.max_ms, 5);
  EXPECT_DOUBLE_EQ(s.mean_ms, 3);
  EXPECT_EQ(summarize({}).count, 0u);
}

// Two runs of a two-step job, started at epoch 1000; one step ran twice (a kill).
Report sample_report() {
  Report r;
  r.scenario = builtin("worker-failure", 10s).value();
  r.tag = "loadsim=t";
  r.start_epoch = 1000;
  r.planned = 2;
  r.submitted = 2;
  r.settled = true;
  r.submit_ms = {4, 6};
  r.submit_lag_ms = {0, 1};
  r.runs = {{"r1", "fast_job", "succeeded", 1000.0, 1003.0},
            {"r2", "fast_job", "succeeded", 1001.0, 1006.0}};
  // ready, first_start, ok_start, ok_end, finished, executions
  r.ops = {{"r1", "fast", "fast_job", "succeeded", 1000.0, 1000.1, 1000.1, 1002.1, 1002.1, 1},
           {"r1", "process", "fast_job", "succeeded", 1002.1, 1002.2, 1002.2, 1003.0, 1003.0, 1},
           {"r2", "fast", "fast_job", "succeeded", 1001.0, 1001.3, 1003.0, 1005.0, 1005.0, 2},
           {"r2", "process", "fast_job", "succeeded", 1005.0, 1005.1, 1005.1, 1006.0, 1006.0, 1}};
  r.samples = {{0.0, 0, 0, 0, 0, 0, 0, 0, 2, std::nullopt},
               {1.0, 1, 1, 1, 0, 1, 0, 0, 2, 0.0},
               {2.0, 2, 0, 2, 0, 2, 1, 0, 1, 1.0},
               {6.0, 2, 0, 0, 0, 0, 4, 2, 2, 0.75}};
  r.faults = {{"loadsim", "kill_worker", 1.5, std::nullopt, true, "SIGKILL demo/42"},
              {"loadsim", "partition", 3.0, 4.5, true, "both cut off (blackhole)"},
              {"scaler", "drain", 4.0, 5.0, true, "drained the fleet"}};
  audit::AuditReport a;
  a.runs = 2;
  a.steps = 4;
  a.executions = 5;
  r.audit = a;
  return r;
}

TEST(Report, JsonCountsLatenciesAndThroughput) {
  const auto j = to_json(sample_report());
  EXPECT_EQ(j["runs"]["submitted"], 2);
  EXPECT_EQ(j["runs"]["succeeded"], 2);
  EXPECT_EQ(j["runs"]["unfinished"], 0);
  EXPECT_EQ(j["runs"]["by_job"]["fast_job"]["runs"], 2);
  EXPECT_EQ(j["ops"]["total"], 4);
  EXPECT_EQ(j["ops"]["executions"], 5);
  EXPECT_EQ(j["ops"]["reexecuted"], 1);
  // Queue waits 100, 100, 300, 100 ms: p50 100, max 300.
  EXPECT_EQ(j["latency"]["queue_wait"]["count"], 4);
  EXPECT_NEAR(j["latency"]["queue_wait"]["p50_ms"].get<double>(), 100, 0.2);
  EXPECT_NEAR(j["latency"]["queue_wait"]["max_ms"].get<double>(), 300, 0.2);
  // The r2 "fast" step: 4 s from ready to finished, 2 s of it the succeeded execution.
  EXPECT_NEAR(j["latency"]["op_end_to_end"]["max_ms"].get<double>(), 4000, 0.2);
  EXPECT_NEAR(j["latency"]["execution"]["max_ms"].get<double>(), 2000, 0.2);
  EXPECT_NEAR(j["latency"]["run_end_to_end"]["p50_ms"].get<double>(), 3000, 0.2);
  EXPECT_NEAR(j["latency"]["run_end_to_end"]["max_ms"].get<double>(), 5000, 0.2);
  // 4 ops and 2 runs done by +6 s.
  EXPECT_NEAR(j["throughput"]["ops_per_s"].get<double>(), 4.0 / 6, 0.001);
  EXPECT_NEAR(j["throughput"]["runs_per_s"].get<double>(), 2.0 / 6, 0.001);
  EXPECT_EQ(j["throughput"]["peak_ops_per_s"], 1.0);
  EXPECT_EQ(j["workers"]["min"], 1);
  EXPECT_EQ(j["workers"]["max"], 2);
  EXPECT_EQ(j["faults"].size(), 3u);
  EXPECT_EQ(j["faults"][1]["end_s"], 4.5);
  EXPECT_EQ(j["series"].size(), 4u);
  EXPECT_TRUE(j["series"][0]["ops_per_s"].is_null());
  EXPECT_EQ(j["verdict"]["ok"], true);
  EXPECT_EQ(j["scenario"]["name"], "worker-failure");
}

TEST(Report, VerdictFailsOnEachProblem) {
  EXPECT_TRUE(verdict(sample_report()).ok);
  auto r = sample_report();
  r.audit->counts.duplicates = 1;
  EXPECT_FALSE(verdict(r).ok);
  EXPECT_NE(verdict(r).reasons[0].find("1 duplicates"), std::string::npos);
  r = sample_report();
  r.settled = false;
  r.runs[1].status = "running";
  ASSERT_FALSE(verdict(r).ok);
  EXPECT_NE(verdict(r).reasons[0].find("1 runs did not finish"), std::string::npos);
  r = sample_report();
  r.audit.reset();
  r.audit_error = "database down";
  EXPECT_FALSE(verdict(r).ok);
  r = sample_report();
  r.submit_failed = 3;
  EXPECT_FALSE(verdict(r).ok);
  r = sample_report();
  r.faults[0].ok = false;
  EXPECT_FALSE(verdict(r).ok);
  r = sample_report();
  r.faults[2].ok = false;  // the scaler's own failure is its business, reported not judged
  EXPECT_TRUE(verdict(r).ok);
  r = sample_report();
  r.interrupted = true;
  EXPECT_FALSE(verdict(r).ok);
  r = sample_report();
  r.runs[0].status = "failed";  // a job may fail by design
  EXPECT_TRUE(verdict(r).ok);
}

TEST(Report, CsvHasARowPerSampleWithActiveFaults) {
  const auto csv = to_csv(sample_report());
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = csv.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(csv.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("t_s,runs_submitted,runs_finished,queue_visible", 0), 0u);
  EXPECT_EQ(lines[1], "0.000,0,0,0,0,0,0,0,,2,");
  EXPECT_EQ(lines[2], "1.000,1,0,1,1,0,1,0,0.00,2,");
  EXPECT_EQ(lines[4], "6.000,2,2,0,0,0,0,4,0.75,2,");
  // A sample inside the partition window names it.
  auto r = sample_report();
  r.samples[2].t_s = 4.2;
  const auto csv2 = to_csv(r);
  EXPECT_NE(csv2.find("4.200,2,0,0,2,0,2,1,1.00,1,partition+drain\n"), std::string::npos) << csv2;
}

TEST(Report, ChartHasPanelsWindowsAndMarks) {
  const auto spec = chart_spec(sample_report());
  ASSERT_EQ(spec.panels.size(), 4u);
  EXPECT_EQ(spec.panels[0].title, "Queue depth");
  EXPECT_EQ(spec.panels[2].series[0].points.size(), 4u);
  ASSERT_EQ(spec.windows.size(), 2u);
  EXPECT_EQ(spec.windows[0].start_s, 3.0);
  EXPECT_EQ(spec.windows[0].end_s, 4.5);
  EXPECT_EQ(spec.windows[1].label, "drain (scaler)");
  ASSERT_EQ(spec.marks.size(), 1u);
  EXPECT_EQ(spec.marks[0].label, "kill 1");
  const auto svg = render_svg(spec);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("drain (scaler)"), std::string::npos);
}

TEST(Report, SummaryNamesTheVerdictAndTheFaults) {
  const auto text = format_summary(sample_report());
  EXPECT_NE(text.find("verdict   PASS"), std::string::npos) << text;
  EXPECT_NE(text.find("audit     PASS"), std::string::npos) << text;
  EXPECT_NE(text.find("SIGKILL demo/42"), std::string::npos) << text;
  EXPECT_NE(text.find("until +4.5s"), std::string::npos) << text;
  auto r = sample_report();
  r.audit->counts.overlaps = 2;
  EXPECT_NE(format_summary(r).find("verdict   FAIL: exactly-once audit failed"), std::string::npos);
}

}  // namespace
}  // namespace opfleet::loadsim
