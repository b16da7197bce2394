// Job definitions: a job is a DAG of ops. Jobs come built in (jobs/builtin.cpp, the five
// seed jobs) or from JSON files (docs/jobs.md documents the format; jobs/parse.cpp
// reads and validates it).
//
// An op's kind and parameters form its "op spec", the JSON object stored in steps.op
// and carried (as a hint) in the SQS message:
//   {"kind":"sleep","mean_s":20,"jitter_s":10}
//   {"kind":"fail","fail_attempts":2,"mean_s":0,"jitter_s":0}      ("always" also allowed)
//   {"kind":"command","argv":["/usr/bin/true"],"timeout_s":60,"max_output_bytes":65536}
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace opfleet::jobs {

enum class OpKind { kSleep, kFail, kCommand };
const char* to_string(OpKind kind);

// Sleeps for a duration drawn uniformly from [mean_s - jitter_s, mean_s + jitter_s]
// seconds, times the run's time scale (see sampling.h). jitter_s <= mean_s, so a
// duration is never negative.
struct SleepParams {
  double mean_s = 0;
  double jitter_s = 0;
  friend bool operator==(const SleepParams&, const SleepParams&) = default;
};

// Fails attempts 1..fail_attempts (or every attempt when `always`), after sleeping like
// a sleep op; later attempts succeed. For testing retries and the dead-letter path.
struct FailParams {
  int fail_attempts = 0;
  bool always = false;
  SleepParams sleep;
  friend bool operator==(const FailParams&, const FailParams&) = default;
};

// Runs argv (no shell). argv[0] must be on the allow-list from the configuration
// (checked with check_command_allowed when a worker loads the jobs); killed after
// timeout_s; at most max_output_bytes of stdout and of stderr are kept in the result.
struct CommandParams {
  std::vector<std::string> argv;
  double timeout_s = 60;
  std::size_t max_output_bytes = 64 * 1024;
  friend bool operator==(const CommandParams&, const CommandParams&) = default;
};

using OpParams = std::variant<SleepParams, FailParams, CommandParams>;

struct OpDef {
  std::string key;  // unique in the job; [A-Za-z0-9_.-]{1,64}
  std::vector<std::string> depends_on;
  OpParams params;

  OpKind kind() const { return static_cast<OpKind>(params.index()); }
};

inline constexpr std::string_view kDefaultSchedule = "*/10 * * * *";
inline constexpr int kDefaultMaxAttempts = 3;

struct JobDef {
  std::string name;  // [A-Za-z0-9_.-]{1,64}
  std::string description;
  std::vector<OpDef> ops;  // in definition order
  // Five-field cron expression; empty: the job is never scheduled (only submitted).
  std::string schedule = std::string(kDefaultSchedule);
  int max_attempts = kDefaultMaxAttempts;  // per step, first attempt included
};

// Limits enforced by validation.
inline constexpr std::size_t kMaxKeyLength = 64;
inline constexpr std::size_t kMaxOpsPerJob = 1000;
inline constexpr int kMaxAttemptsLimit = 100;
inline constexpr double kMaxDurationS = 7 * 24 * 3600.0;  // mean + jitter, one week
inline constexpr double kMaxCommandTimeoutS = 24 * 3600.0;
inline constexpr std::size_t kMaxOutputBytesLimit = 1024 * 1024;

// [A-Za-z0-9_.-]{1,64}: safe in SQS message group and deduplication ids and in URLs.
bool valid_key(std::string_view key);

// The op spec JSON (kind and parameters; no key, no dependencies).
nlohmann::json op_spec(const OpDef& op);
// Reads an op spec back (e.g. from steps.op), validating it like a job file would.
Result<OpParams> parse_op_spec(const nlohmann::json& spec);

// Whether attempt number `attempt` (1 = the first execution) of a fail op fails.
bool fails_on_attempt(const FailParams& p, int attempt);

}  // namespace opfleet::jobs
