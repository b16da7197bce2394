#include "jobs/parse.h"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "jobs/graph.h"

namespace opfleet::jobs {

namespace {

using nlohmann::json;

Error at(std::string_view where, std::string_view what) {
  return Error::invalid(fmt::format("{}: {}", where, what));
}

// Unknown fields are errors, so a typo ("jiter_s") cannot silently fall back to a default.
Status only_fields(const json& obj, std::initializer_list<std::string_view> allowed,
                   std::string_view where) {
  for (const auto& item : obj.items()) {
    bool known = false;
    for (auto a : allowed) known = known || item.key() == a;
    if (!known) {
      return fail(at(where, fmt::format("unknown field '{}' (known: {})", item.key(),
                                        fmt::join(allowed, ", "))));
    }
  }
  return ok();
}

Result<double> number_field(const json& obj, const char* field, std::optional<double> fallback,
                            std::string_view where) {
  auto it = obj.find(field);
  if (it == obj.end()) {
    if (fallback) return *fallback;
    return fail(at(where, fmt::format("missing field '{}'", field)));
  }
  if (!it->is_number()) return fail(at(where, fmt::format("'{}' must be a number", field)));
  return it->get<double>();
}

Result<std::string> string_field(const json& obj, const char* field,
                                 std::optional<std::string_view> fallback, std::string_view where) {
  auto it = obj.find(field);
  if (it == obj.end()) {
    if (fallback) return std::string(*fallback);
    return fail(at(where, fmt::format("missing field '{}'", field)));
  }
  if (!it->is_string()) return fail(at(where, fmt::format("'{}' must be a string", field)));
  return it->get<std::string>();
}

Result<std::vector<std::string>> strings_field(const json& obj, const char* field,
                                               std::string_view where) {
  std::vector<std::string> out;
  auto it = obj.find(field);
  if (it == obj.end()) return out;
  if (!it->is_array()) {
    return fail(at(where, fmt::format("'{}' must be an array of strings", field)));
  }
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return fail(at(where, fmt::format("'{}' must be an array of strings", field)));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<SleepParams> sleep_fields(const json& obj, bool mean_required, std::string_view where) {
  SleepParams p;
  OPFLEET_TRY(
      p.mean_s,
      number_field(obj, "mean_s", mean_required ? std::nullopt : std::optional<double>(0), where));
  OPFLEET_TRY(p.jitter_s, number_field(obj, "jitter_s", 0.0, where));
  return p;
}

// The kind-specific fields of an op; `extra` are the fields the caller handles itself.
Result<OpParams> params_fields(const json& obj, std::string_view kind,
                               std::initializer_list<std::string_view> extra,
                               std::string_view where) {
  auto allowed = [&](std::initializer_list<std::string_view> own) {
    std::vector<std::string_view> all(extra);
    all.insert(all.end(), own);
    return all;
  };
  auto check_fields = [&](const std::vector<std::string_view>& names) -> Status {
    for (const auto& item : obj.items()) {
      bool known = false;
      for (auto n : names) known = known || item.key() == n;
      if (!known) {
        return fail(at(where, fmt::format("unknown field '{}' for a {} op (known: {})", item.key(),
                                          kind, fmt::join(names, ", "))));
      }
    }
    return ok();
  };
  if (kind == "sleep") {
    OPFLEET_TRY_STATUS(check_fields(allowed({"kind", "mean_s", "jitter_s"})));
    OPFLEET_TRY(auto p, sleep_fields(obj, true, where));
    return OpParams(p);
  }
  if (kind == "fail") {
    OPFLEET_TRY_STATUS(check_fields(allowed({"kind", "fail_attempts", "mean_s", "jitter_s"})));
    FailParams p;
    auto it = obj.find("fail_attempts");
    if (it == obj.end()) {
      return fail(at(where, "missing field 'fail_attempts' (a count, or \"always\")"));
    }
    if (it->is_string() && it->get<std::string>() == "always") {
      p.always = true;
    } else if (it->is_number_integer()) {
      const auto n = it->get<std::int64_t>();
      if (n < 0 || n > kMaxAttemptsLimit) {
        return fail(at(where, fmt::format("'fail_attempts' must be between 0 and {}, or \"always\"",
                                          kMaxAttemptsLimit)));
      }
      p.fail_attempts = static_cast<int>(n);
    } else {
      return fail(at(where, "'fail_attempts' must be a whole number or \"always\""));
    }
    OPFLEET_TRY(p.sleep, sleep_fields(obj, false, where));
    return OpParams(p);
  }
  if (kind == "command") {
    OPFLEET_TRY_STATUS(check_fields(allowed({"kind", "argv", "timeout_s", "max_output_bytes"})));
    CommandParams p;
    if (!obj.contains("argv")) return fail(at(where, "missing field 'argv'"));
    OPFLEET_TRY(p.argv, strings_field(obj, "argv", where));
    OPFLEET_TRY(p.timeout_s, number_field(obj, "timeout_s", p.timeout_s, where));
    if (auto it = obj.find("max_output_bytes"); it != obj.end()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
        return fail(at(where, "'max_output_bytes' must be a positive whole number"));
      }
      p.max_output_bytes = it->get<std::size_t>();
    }
    return OpParams(p);
  }
  return fail(at(where, fmt::format("unknown op kind '{}' (known: sleep, fail, command)", kind)));
}

Status check_sleep(const SleepParams& p) {
  if (!std::isfinite(p.mean_s) || p.mean_s < 0) {
    return fail(
        Error::invalid(fmt::format("mean_s must be a finite number >= 0, not {}", p.mean_s)));
  }
  if (!std::isfinite(p.jitter_s) || p.jitter_s < 0) {
    return fail(
        Error::invalid(fmt::format("jitter_s must be a finite number >= 0, not {}", p.jitter_s)));
  }
  if (p.jitter_s > p.mean_s) {
    return fail(Error::invalid(
        fmt::format("jitter_s ({}) must not exceed mean_s ({}): durations would go negative",
                    p.jitter_s, p.mean_s)));
  }
  if (p.mean_s + p.jitter_s > kMaxDurationS) {
    return fail(Error::invalid(
        fmt::format("mean_s + jitter_s must be at most {} s (one week)", kMaxDurationS)));
  }
  return ok();
}

// A cron expression of five fields; the scheduler parses it fully.
bool cron_shaped(std::string_view s) {
  int fields = 0;
  bool in_field = false;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      in_field = false;
      continue;
    }
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    c == '*' || c == '/' || c == ',' || c == '-' || c == '?';
    if (!ok) return false;
    if (!in_field) ++fields;
    in_field = true;
  }
  return fields == 5;
}

}  // namespace

Status validate_params(const OpParams& params) {
  if (const auto* s = std::get_if<SleepParams>(&params)) return check_sleep(*s);
  if (const auto* f = std::get_if<FailParams>(&params)) {
    if (f->fail_attempts < 0 || f->fail_attempts > kMaxAttemptsLimit) {
      return fail(
          Error::invalid(fmt::format("fail_attempts must be between 0 and {}", kMaxAttemptsLimit)));
    }
    return check_sleep(f->sleep);
  }
  const auto& c = std::get<CommandParams>(params);
  if (c.argv.empty()) return fail(Error::invalid("argv must name a program"));
  for (std::size_t i = 0; i < c.argv.size(); ++i) {
    if (c.argv[i].find('\0') != std::string::npos) {
      return fail(Error::invalid(fmt::format("argv[{}] contains a NUL character", i)));
    }
  }
  if (c.argv[0].empty()) return fail(Error::invalid("argv[0] must not be empty"));
  if (!std::isfinite(c.timeout_s) || c.timeout_s <= 0 || c.timeout_s > kMaxCommandTimeoutS) {
    return fail(Error::invalid(fmt::format("timeout_s must be > 0 and at most {} s, not {}",
                                           kMaxCommandTimeoutS, c.timeout_s)));
  }
  if (c.max_output_bytes == 0 || c.max_output_bytes > kMaxOutputBytesLimit) {
    return fail(Error::invalid(
        fmt::format("max_output_bytes must be between 1 and {}", kMaxOutputBytesLimit)));
  }
  return ok();
}

Status validate(const JobDef& job) {
  if (!valid_key(job.name)) {
    return fail(Error::invalid(fmt::format(
        "job name '{}' must be 1 to {} characters of A-Z a-z 0-9 _ . -", job.name, kMaxKeyLength)));
  }
  auto job_error = [&job](const std::string& what) {
    return fail(Error::invalid(fmt::format("job '{}': {}", job.name, what)));
  };
  if (!job.schedule.empty() && !cron_shaped(job.schedule)) {
    return job_error(
        fmt::format("schedule '{}' is not a five-field cron expression", job.schedule));
  }
  if (job.max_attempts < 1 || job.max_attempts > kMaxAttemptsLimit) {
    return job_error(fmt::format("max_attempts must be between 1 and {}", kMaxAttemptsLimit));
  }
  if (job.ops.empty()) return job_error("has no ops");
  if (job.ops.size() > kMaxOpsPerJob) {
    return job_error(
        fmt::format("has {} ops; at most {} are allowed", job.ops.size(), kMaxOpsPerJob));
  }
  for (const OpDef& op : job.ops) {
    if (!valid_key(op.key)) {
      return job_error(fmt::format("op key '{}' must be 1 to {} characters of A-Z a-z 0-9 _ . -",
                                   op.key, kMaxKeyLength));
    }
    if (auto st = validate_params(op.params); !st) {
      return job_error(fmt::format("op '{}': {}", op.key, st.error().message));
    }
  }
  return check_graph(job);
}

Result<OpParams> parse_op_spec(const json& spec) {
  constexpr std::string_view where = "op spec";
  if (!spec.is_object()) return fail(at(where, "must be a JSON object"));
  OPFLEET_TRY(auto kind, string_field(spec, "kind", std::nullopt, where));
  OPFLEET_TRY(auto params, params_fields(spec, kind, {}, where));
  if (auto st = validate_params(params); !st) return fail(at(where, st.error().message));
  return params;
}

Result<JobDef> parse_job(const json& j) {
  if (!j.is_object()) return fail(Error::invalid("a job must be a JSON object"));
  JobDef job;
  OPFLEET_TRY(job.name, string_field(j, "name", std::nullopt, "job"));
  const std::string where = fmt::format("job '{}'", job.name);
  OPFLEET_TRY_STATUS(
      only_fields(j, {"name", "description", "schedule", "max_attempts", "ops"}, where));
  OPFLEET_TRY(job.description, string_field(j, "description", "", where));
  if (auto it = j.find("schedule"); it != j.end() && it->is_null()) {
    job.schedule.clear();  // null: never scheduled
  } else {
    OPFLEET_TRY(job.schedule, string_field(j, "schedule", kDefaultSchedule, where));
  }
  if (auto it = j.find("max_attempts"); it != j.end()) {
    if (!it->is_number_integer()) return fail(at(where, "'max_attempts' must be a whole number"));
    const auto n = it->get<std::int64_t>();
    if (n < 1 || n > kMaxAttemptsLimit) {
      return fail(
          at(where, fmt::format("'max_attempts' must be between 1 and {}", kMaxAttemptsLimit)));
    }
    job.max_attempts = static_cast<int>(n);
  }
  auto ops = j.find("ops");
  if (ops == j.end() || !ops->is_array()) return fail(at(where, "'ops' must be an array of ops"));
  for (std::size_t i = 0; i < ops->size(); ++i) {
    const json& o = (*ops)[i];
    std::string op_where = fmt::format("{}: ops[{}]", where, i);
    if (!o.is_object()) return fail(at(op_where, "an op must be a JSON object"));
    OpDef op;
    OPFLEET_TRY(op.key, string_field(o, "key", std::nullopt, op_where));
    op_where = fmt::format("{}: op '{}'", where, op.key);
    OPFLEET_TRY(auto kind, string_field(o, "kind", std::nullopt, op_where));
    OPFLEET_TRY(op.depends_on, strings_field(o, "depends_on", op_where));
    OPFLEET_TRY(op.params, params_fields(o, kind, {"key", "depends_on"}, op_where));
    job.ops.push_back(std::move(op));
  }
  OPFLEET_TRY_STATUS(validate(job));
  return job;
}

Result<std::vector<JobDef>> parse_jobs_text(std::string_view text, std::string_view source) {
  auto doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(at(source, "not valid JSON"));
  if (!doc.is_object()) return fail(at(source, "must be a JSON object with a 'jobs' array"));
  OPFLEET_TRY_STATUS(only_fields(doc, {"version", "jobs"}, source));
  if (auto v = doc.find("version"); v != doc.end()) {
    if (!v->is_number_integer() || v->get<std::int64_t>() != kFileFormatVersion) {
      return fail(at(source, fmt::format("unsupported 'version' (this opfleet reads version {})",
                                         kFileFormatVersion)));
    }
  }
  auto jobs = doc.find("jobs");
  if (jobs == doc.end() || !jobs->is_array()) return fail(at(source, "'jobs' must be an array"));
  std::vector<JobDef> out;
  for (const json& j : *jobs) {
    auto job = parse_job(j);
    if (!job) return fail(at(source, job.error().message));
    for (const JobDef& seen : out) {
      if (seen.name == job->name) {
        return fail(at(source, fmt::format("job '{}' is defined twice", job->name)));
      }
    }
    out.push_back(std::move(*job));
  }
  return out;
}

Result<std::vector<JobDef>> load_jobs_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Error::not_found(fmt::format("{}: cannot open the job file", path.string())));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(Error::invalid(fmt::format("{}: read error", path.string())));
  return parse_jobs_text(text.str(), path.string());
}

json to_json(const JobDef& job) {
  json ops = json::array();
  for (const OpDef& op : job.ops) {
    json o = {{"key", op.key}};
    o.update(op_spec(op));
    if (!op.depends_on.empty()) o["depends_on"] = op.depends_on;
    ops.push_back(std::move(o));
  }
  json j = {{"name", job.name}, {"description", job.description}};
  j["schedule"] = job.schedule.empty() ? json(nullptr) : json(job.schedule);
  j["max_attempts"] = job.max_attempts;
  j["ops"] = std::move(ops);
  return j;
}

Status check_command_allowed(const JobDef& job, const std::vector<std::string>& allow_list) {
  for (const OpDef& op : job.ops) {
    const auto* c = std::get_if<CommandParams>(&op.params);
    if (c == nullptr) continue;
    bool allowed = false;
    for (const auto& a : allow_list) allowed = allowed || a == c->argv.at(0);
    if (!allowed) {
      return fail(Error::invalid(fmt::format(
          "job '{}': op '{}': command '{}' is not on the allow-list ({})", job.name, op.key,
          c->argv.at(0),
          allow_list.empty() ? "empty" : fmt::format("{}", fmt::join(allow_list, ", ")))));
    }
  }
  return ok();
}

}  // namespace opfleet::jobs
