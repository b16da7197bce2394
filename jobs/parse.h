// Reading job files (format: docs/jobs.md) and validating job definitions.
//
// Parsing checks shapes (types, required and unknown fields); validate() checks meaning
// (names, durations, limits, the graph) and runs on every job whatever its origin, the
// built-ins included. Errors are kInvalid with a message that says where: the file,
// the job, the op, the field.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "jobs/job.h"

namespace opfleet::jobs {

inline constexpr int kFileFormatVersion = 1;

// Parameter checks: finite durations >= 0, jitter_s <= mean_s, mean_s + jitter_s within
// kMaxDurationS, fail_attempts >= 0, argv non-empty without empty or NUL-containing
// arguments, 0 < timeout_s <= kMaxCommandTimeoutS, 0 < max_output_bytes <= 1 MiB.
Status validate_params(const OpParams& params);

// The whole job: its name, schedule shape, max_attempts, every op's key and parameters,
// and the graph (jobs/graph.h check_graph).
Status validate(const JobDef& job);

// One job object of a job file.
Result<JobDef> parse_job(const nlohmann::json& j);

// A job file's text: {"version": 1, "jobs": [...]}. `source` names it in errors.
Result<std::vector<JobDef>> parse_jobs_text(std::string_view text, std::string_view source);

// Reads and parses one file.
Result<std::vector<JobDef>> load_jobs_file(const std::filesystem::path& path);

// The job as a job-file object (what parse_job reads back).
nlohmann::json to_json(const JobDef& job);

// Every command op's argv[0] must be one of `allow_list` (exact string match, so list
// absolute paths). Checked where commands run, from the configuration.
Status check_command_allowed(const JobDef& job, const std::vector<std::string>& allow_list);

}  // namespace opfleet::jobs
