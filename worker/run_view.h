// Reading runs back for people and scripts (`opfleet runs`, `opfleet run`, submit --wait).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/connection.h"

namespace opfleet::worker {

struct StepView {
  std::string step_key;
  std::string status;
  int attempt = 0;
  int max_attempts = 0;
  std::vector<std::string> depends_on;
  std::string started_at;
  std::string finished_at;
  std::optional<double> duration_s;
  std::string error;
  nlohmann::json result;
};

struct AttemptView {
  std::string step_key;
  int attempt = 0;
  std::int64_t fencing_token = 0;
  std::string worker_id;
  std::string host;
  int pid = 0;
  std::string started_at;
  std::string ended_at;
  std::string outcome;
  std::string error;
};

struct RunView {
  std::string run_id;
  std::string job;
  std::string status;
  nlohmann::json tags;
  double time_scale = 1.0;
  std::string submitted_at;
  std::string started_at;
  std::string finished_at;
  std::optional<double> duration_s;
  std::string error;
  int steps_total = 0;
  int steps_done = 0;
  std::vector<StepView> steps;        // load_run only
  std::vector<AttemptView> attempts;  // load_run only

  bool finished() const {
    return status == "succeeded" || status == "failed" || status == "cancelled";
  }
};

// kNotFound for an unknown run id.
Result<RunView> load_run(store::Connection& db, const std::string& run_id);
// Newest first; empty filters match everything.
Result<std::vector<RunView>> list_runs(store::Connection& db, const std::string& status,
                                       const std::string& job, int limit);

nlohmann::json to_json(const RunView& run);
std::string format_run(const RunView& run);
std::string format_runs(const std::vector<RunView>& runs);

}  // namespace opfleet::worker
