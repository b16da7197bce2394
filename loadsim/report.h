// What a load simulation observed, and its three renderings (docs/loadsim.md):
//   JSON  everything: the scenario, counts, latency percentiles, throughput, the time
//         series, the faults (the simulator's and those the scaler injected meanwhile),
//         the exactly-once audit and the verdict;
//   CSV   the time series, one row per sample, for a spreadsheet;
//   SVG   the chart: queue depth, ops in flight, workers, completions over time, with the
//         fault windows shaded and worker kills marked.
// Times in the series are seconds since the simulation started; database timestamps are
// epoch seconds on the database clock (the same host's clock in the local stack).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit.h"
#include "loadsim/chart.h"
#include "loadsim/scenario.h"
#include "loadsim/stats.h"

namespace opfleet::loadsim {

// One look at the fleet. A value the simulator could not read at that instant (a
// service it could not reach) is nullopt, written as null / an empty CSV cell.
struct Sample {
  double t_s = 0;
  std::int64_t runs_submitted = 0;              // by this simulation, so far
  std::optional<std::int64_t> queue_visible;    // SQS ApproximateNumberOfMessages
  std::optional<std::int64_t> queue_in_flight;  // ApproximateNumberOfMessagesNotVisible
  std::optional<std::int64_t> ops_waiting;      // steps queued (ready, not claimed)
  std::optional<std::int64_t> ops_running;      // steps claimed by a worker
  std::optional<std::int64_t> ops_done;         // steps succeeded, failed or skipped
  std::optional<std::int64_t> runs_finished;
  std::optional<std::int64_t> workers;  // running worker processes (or ECS tasks)
  std::optional<double> ops_per_s;      // completions since the previous sample
};

// A fault, injected by this simulation ("loadsim") or by the scaler's failure simulation
// (its source name) while the simulation ran. Windows (partition, drain) have an end.
struct FaultRecord {
  std::string source;
  std::string kind;  // kill_worker, partition, drain
  double at_s = 0;
  std::optional<double> end_s;
  bool ok = true;
  std::string detail;  // what was killed, which services were cut, or why it failed
};

// One step of a submitted run, times in epoch seconds (nullopt: did not happen).
struct OpTiming {
  std::string run_id;
  std::string step_key;
  std::string job;
  std::string status;
  std::optional<double> ready;        // its run was created, or its last dependency finished
  std::optional<double> first_start;  // the first execution started
  std::optional<double> ok_start;     // the succeeded execution
  std::optional<double> ok_end;
  std::optional<double> finished;
  int executions = 0;  // attempts rows: more than one means a retry or a recovery
};

struct RunTiming {
  std::string run_id;
  std::string job;
  std::string status;
  double submitted = 0;
  std::optional<double> finished;
};

struct Report {
  Scenario scenario;
  std::string tag;         // "loadsim=<id>": every run of the simulation carries it
  std::string started_at;  // ISO 8601 UTC
  std::string finished_at;
  double start_epoch = 0;   // the database clock when the simulation started
  double submit_end_s = 0;  // when the last submission was made
  double wall_s = 0;
  std::int64_t planned = 0;
  std::int64_t submitted = 0;
  std::int64_t submit_failed = 0;
  std::string last_submit_error;
  std::vector<double> submit_ms;      // how long each submission took
  std::vector<double> submit_lag_ms;  // how late each started against the plan
  bool interrupted = false;           // stopped by a signal
  bool settled = false;               // every submitted run finished in time
  std::vector<RunTiming> runs;
  std::vector<OpTiming> ops;
  std::vector<Sample> samples;
  std::vector<FaultRecord> faults;
  std::optional<audit::AuditReport> audit;
  std::string audit_error;
  std::vector<std::string> files;  // written by write_report_files
};

struct Verdict {
  bool ok = true;
  std::vector<std::string> reasons;  // why not
};
// Passes when every submission was made, every run finished, the audit ran and found
// nothing, and the simulation was not interrupted. Failed runs do not fail it (a job may
// fail by design); they are reported.
Verdict verdict(const Report& r);

nlohmann::json to_json(const Report& r);
std::string to_csv(const Report& r);
ChartSpec chart_spec(const Report& r);
// The text summary printed at the end.
std::string format_summary(const Report& r);

// FILE (JSON), then FILE with its extension replaced by .csv and .svg; records the paths
// in r.files. kInternal names the file that could not be written.
Status write_report_files(Report& r, const std::string& json_path);

}  // namespace opfleet::loadsim
