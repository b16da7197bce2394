// Job files and op specs: what is accepted, and what is rejected with which message.
#include "jobs/parse.h"

#include <cmath>

#include <gtest/gtest.h>

#include "jobs/graph.h"

namespace opfleet::jobs {
namespace {

using nlohmann::json;

// Parses a job-file text and returns the error message ("" when it parsed).
std::string error_of(std::string_view text) {
  auto r = parse_jobs_text(text, "jobs.json");
  if (r) return "";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

// A file with one job whose ops are `ops_json`.
std::string job_file(std::string_view ops_json) {
  return std::string(R"({"version": 1, "jobs": [{"name": "j", "ops": )") + std::string(ops_json) +
         "}]}";
}

#define EXPECT_REJECTED(text, needle)                                 \
  do {                                                                \
    const std::string message = error_of(text);                       \
    EXPECT_NE(message.find(needle), std::string::npos)                \
        << "message: '" << message << "' lacks '" << (needle) << "'"; \
  } while (0)

TEST(JobFile, ParsesEveryKindWithDefaults) {
  auto r = parse_jobs_text(R"({
    "version": 1,
    "jobs": [{
      "name": "etl",
      "description": "extract, check, load",
      "schedule": "0 * * * *",
      "max_attempts": 5,
      "ops": [
        {"key": "extract", "kind": "sleep", "mean_s": 20, "jitter_s": 10},
        {"key": "flaky", "kind": "fail", "fail_attempts": 2, "depends_on": ["extract"]},
        {"key": "broken", "kind": "fail", "fail_attempts": "always", "mean_s": 1},
        {"key": "load", "kind": "command", "argv": ["/bin/echo", "done"],
         "depends_on": ["flaky", "extract"]}
      ]
    }, {
      "name": "adhoc", "schedule": null,
      "ops": [{"key": "nap", "kind": "sleep", "mean_s": 0.5}]
    }]
  })",
                           "jobs.json");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  const JobDef& etl = (*r)[0];
  EXPECT_EQ(etl.name, "etl");
  EXPECT_EQ(etl.description, "extract, check, load");
  EXPECT_EQ(etl.schedule, "0 * * * *");
  EXPECT_EQ(etl.max_attempts, 5);
  ASSERT_EQ(etl.ops.size(), 4u);
  EXPECT_EQ(std::get<SleepParams>(etl.ops[0].params), (SleepParams{20, 10}));
  const auto& flaky = std::get<FailParams>(etl.ops[1].params);
  EXPECT_EQ(flaky.fail_attempts, 2);
  EXPECT_FALSE(flaky.always);
  EXPECT_EQ(flaky.sleep, (SleepParams{0, 0}));
  EXPECT_EQ(etl.ops[1].depends_on, std::vector<std::string>{"extract"});
  EXPECT_TRUE(std::get<FailParams>(etl.ops[2].params).always);
  const auto& load = std::get<CommandParams>(etl.ops[3].params);
  EXPECT_EQ(load.argv, (std::vector<std::string>{"/bin/echo", "done"}));
  EXPECT_EQ(load.timeout_s, 60);
  EXPECT_EQ(load.max_output_bytes, 65536u);
  EXPECT_EQ(etl.ops[3].kind(), OpKind::kCommand);

  const JobDef& adhoc = (*r)[1];
  EXPECT_TRUE(adhoc.schedule.empty());  // null: never scheduled
  EXPECT_EQ(adhoc.max_attempts, kDefaultMaxAttempts);
  EXPECT_EQ(std::get<SleepParams>(adhoc.ops[0].params), (SleepParams{0.5, 0}));
}

TEST(JobFile, DefaultScheduleIsEveryTenMinutes) {
  auto r = parse_jobs_text(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1}])"), "f");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].schedule, "*/10 * * * *");
}

TEST(JobFile, RejectsCyclesNamingThePath) {
  EXPECT_REJECTED(job_file(R"([
      {"key": "a", "kind": "sleep", "mean_s": 1, "depends_on": ["c"]},
      {"key": "b", "kind": "sleep", "mean_s": 1, "depends_on": ["a"]},
      {"key": "c", "kind": "sleep", "mean_s": 1, "depends_on": ["b"]},
      {"key": "d", "kind": "sleep", "mean_s": 1}])"),
                  "dependency cycle: a -> c -> b -> a");
  EXPECT_REJECTED(job_file(R"([
      {"key": "root", "kind": "sleep", "mean_s": 1},
      {"key": "x", "kind": "sleep", "mean_s": 1, "depends_on": ["root", "y"]},
      {"key": "y", "kind": "sleep", "mean_s": 1, "depends_on": ["x"]}])"),
                  "dependency cycle: x -> y -> x");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1, "depends_on": ["a"]}])"),
                  "op 'a' depends on itself");
}

TEST(JobFile, RejectsUnknownDependenciesAndDuplicateKeys) {
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1, "depends_on": ["zz"]}])"),
                  "job 'j': op 'a' depends on unknown op 'zz'");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1},
                               {"key": "a", "kind": "sleep", "mean_s": 2}])"),
                  "duplicate op key 'a'");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1},
                               {"key": "b", "kind": "sleep", "mean_s": 1, "depends_on": ["a", "a"]}])"),
                  "lists dependency 'a' twice");
}

TEST(JobFile, RejectsBadDurations) {
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": -1}])"),
                  "op 'a': mean_s must be a finite number >= 0");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 5, "jitter_s": -1}])"),
                  "jitter_s must be a finite number >= 0");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 10, "jitter_s": 15}])"),
                  "jitter_s (15) must not exceed mean_s (10)");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1e9}])"), "one week");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": "20s"}])"),
                  "'mean_s' must be a number");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep"}])"), "missing field 'mean_s'");
  EXPECT_REJECTED(
      job_file(R"([{"key": "a", "kind": "fail", "fail_attempts": 1, "mean_s": 1, "jitter_s": 2}])"),
      "must not exceed mean_s");
  // JSON has no NaN, but definitions built in code do: the same rules apply.
  JobDef j{"j", "", {OpDef{"a", {}, SleepParams{std::nan(""), 0}}}};
  auto st = validate(j);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("mean_s must be a finite number"), std::string::npos);
  j.ops[0].params = SleepParams{INFINITY, 0};
  EXPECT_FALSE(validate(j));
}

TEST(JobFile, RejectsUnknownKindsAndFields) {
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "nap", "mean_s": 1}])"),
                  "unknown op kind 'nap'");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "sleep", "mean_s": 1, "jiter_s": 1}])"),
                  "unknown field 'jiter_s' for a sleep op");
  EXPECT_REJECTED(R"({"jobs": [{"name": "j", "ops": [], "retries": 3}]})",
                  "unknown field 'retries'");
  EXPECT_REJECTED(R"({"jobs": [], "extra": 1})", "unknown field 'extra'");
  EXPECT_REJECTED(R"({"version": 2, "jobs": []})", "unsupported 'version'");
  EXPECT_REJECTED(R"({"jobs": {}})", "'jobs' must be an array");
  EXPECT_REJECTED(R"([1, 2])", "must be a JSON object");
  EXPECT_REJECTED("{not json", "jobs.json: not valid JSON");
}

TEST(JobFile, RejectsBadNamesAndJobSettings) {
  EXPECT_REJECTED(
      R"({"jobs": [{"name": "has space", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}]})",
      "job name 'has space'");
  EXPECT_REJECTED(job_file(R"([{"key": "a#b", "kind": "sleep", "mean_s": 1}])"), "op key 'a#b'");
  EXPECT_REJECTED(job_file("[]"), "has no ops");
  EXPECT_REJECTED(
      R"({"jobs": [{"name": "j", "max_attempts": 0, "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}]})",
      "'max_attempts' must be between 1 and 100");
  EXPECT_REJECTED(
      R"({"jobs": [{"name": "j", "schedule": "every minute", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}]})",
      "not a five-field cron expression");
  const std::string one = R"({"name": "j", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]})";
  EXPECT_REJECTED(R"({"jobs": [)" + one + "," + one + "]}", "job 'j' is defined twice");
}

TEST(JobFile, FailAndCommandShapes) {
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "fail"}])"), "missing field 'fail_attempts'");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "fail", "fail_attempts": "sometimes"}])"),
                  "'fail_attempts' must be a whole number or \"always\"");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "fail", "fail_attempts": -1}])"),
                  "'fail_attempts' must be between 0 and 100");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "command"}])"), "missing field 'argv'");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "command", "argv": []}])"),
                  "argv must name a program");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "command", "argv": [""]}])"),
                  "argv[0] must not be empty");
  EXPECT_REJECTED(job_file(R"([{"key": "a", "kind": "command", "argv": ["/bin/x", 3]}])"),
                  "'argv' must be an array of strings");
  EXPECT_REJECTED(
      job_file(R"([{"key": "a", "kind": "command", "argv": ["/bin/x"], "timeout_s": 0}])"),
      "timeout_s must be > 0");
  EXPECT_REJECTED(
      job_file(R"([{"key": "a", "kind": "command", "argv": ["/bin/x"], "max_output_bytes": 0}])"),
      "'max_output_bytes' must be a positive whole number");
  EXPECT_REJECTED(
      job_file(
          R"([{"key": "a", "kind": "command", "argv": ["/bin/x"], "max_output_bytes": 99999999}])"),
      "max_output_bytes must be between 1 and");
}

TEST(FailOp, FailsTheFirstNAttempts) {
  const FailParams twice{2, false, {}};
  EXPECT_TRUE(fails_on_attempt(twice, 1));
  EXPECT_TRUE(fails_on_attempt(twice, 2));
  EXPECT_FALSE(fails_on_attempt(twice, 3));
  const FailParams always{0, true, {}};
  EXPECT_TRUE(fails_on_attempt(always, 1));
  EXPECT_TRUE(fails_on_attempt(always, 100));
  EXPECT_FALSE(fails_on_attempt(FailParams{}, 1));
}

TEST(OpSpec, RoundTripsEveryKind) {
  const std::vector<OpDef> ops = {
      OpDef{"s", {}, SleepParams{20, 10}},
      OpDef{"f", {}, FailParams{3, false, SleepParams{1, 0.5}}},
      OpDef{"a", {}, FailParams{0, true, SleepParams{}}},
      OpDef{"c", {}, CommandParams{{"/bin/echo", "hi there"}, 2.5, 1024}},
  };
  for (const auto& op : ops) {
    const json spec = op_spec(op);
    EXPECT_EQ(spec["kind"], to_string(op.kind()));
    EXPECT_FALSE(spec.contains("key"));
    auto back = parse_op_spec(spec);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, op.params) << spec.dump();
  }
  EXPECT_EQ(op_spec(ops[0]), json::parse(R"({"kind":"sleep","mean_s":20.0,"jitter_s":10.0})"));
  EXPECT_EQ(op_spec(ops[2])["fail_attempts"], "always");
}

TEST(OpSpec, RejectsWhatAJobFileWould) {
  EXPECT_FALSE(parse_op_spec(json::array()));
  EXPECT_FALSE(parse_op_spec(json{{"kind", "sleep"}}));
  EXPECT_FALSE(parse_op_spec(json{{"kind", "sleep"}, {"mean_s", 1}, {"key", "a"}}));
  auto r = parse_op_spec(json{{"kind", "sleep"}, {"mean_s", 1}, {"jitter_s", 2}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("op spec: jitter_s (2) must not exceed"), std::string::npos)
      << r.error().message;
}

TEST(CommandAllowList, OnlyListedProgramsMayRun) {
  auto jobs = parse_jobs_text(job_file(R"([
      {"key": "ok", "kind": "command", "argv": ["/bin/true"]},
      {"key": "nope", "kind": "command", "argv": ["/bin/rm", "-rf", "/"], "depends_on": ["ok"]}])"),
                              "f");
  ASSERT_TRUE(jobs) << jobs.error().message;
  const JobDef& job = (*jobs)[0];
  EXPECT_TRUE(check_command_allowed(job, {"/bin/true", "/bin/rm"}));
  auto denied = check_command_allowed(job, {"/bin/true"});
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message.find("op 'nope': command '/bin/rm' is not on the allow-list"),
            std::string::npos)
      << denied.error().message;
  EXPECT_FALSE(check_command_allowed(job, {}));
  // Exact match: a bare name does not allow an absolute path, nor the other way round.
  EXPECT_FALSE(check_command_allowed(job, {"true", "rm"}));
}

}  // namespace
}  // namespace opfleet::jobs
