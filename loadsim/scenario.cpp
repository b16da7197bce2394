#include "loadsim/scenario.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "config/validate.h"

namespace opfleet::loadsim {
namespace {

Error invalid(std::string message) {
  return Error::invalid(std::move(message));
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto pos = text.find(sep, start);
    out.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<double> parse_number(std::string_view text, std::string_view what) {
  const std::string s(trim(text));
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
  }
  return fail(invalid(fmt::format("{}: '{}' is not a number", what, s)));
}

// A duration in a scenario file: "30s", "1m30s", or a number of seconds.
Result<Millis> json_duration(const nlohmann::json& v, std::string_view key) {
  if (v.is_number()) {
    const double s = v.get<double>();
    if (!std::isfinite(s) || s < 0) {
      return fail(invalid(fmt::format("{}: must be a non-negative duration", key)));
    }
    return Millis(static_cast<std::int64_t>(std::llround(s * 1000)));
  }
  if (v.is_string()) {
    auto d = config::parse_duration(v.get<std::string>());
    if (!d) return fail(invalid(fmt::format("{}: {}", key, d.error().message)));
    return *d;
  }
  return fail(invalid(fmt::format("{}: a duration is a string such as \"30s\" or seconds", key)));
}

Result<double> json_number(const nlohmann::json& v, std::string_view key) {
  if (!v.is_number()) return fail(invalid(fmt::format("{}: must be a number", key)));
  return v.get<double>();
}

Status check_keys(const nlohmann::json& obj, std::string_view where,
                  std::initializer_list<std::string_view> known) {
  if (!obj.is_object()) return fail(invalid(fmt::format("{}: must be an object", where)));
  for (const auto& [k, _] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return fail(invalid(
          fmt::format("{}: unknown key \"{}\" (known: {})", where, k, fmt::join(known, ", "))));
    }
  }
  return ok();
}

Result<Arrivals> parse_arrivals(std::string_view text) {
  if (text == "uniform") return Arrivals::kUniform;
  if (text == "poisson") return Arrivals::kPoisson;
  return fail(invalid(fmt::format("arrivals: '{}' is not uniform or poisson", text)));
}

Result<PartitionWindow> partition_from_json(const nlohmann::json& j, std::string_view where) {
  OPFLEET_TRY_STATUS(check_keys(j, where, {"at", "length", "target", "mode"}));
  PartitionWindow w;
  if (!j.contains("at") || !j.contains("length")) {
    return fail(invalid(fmt::format("{}: needs \"at\" and \"length\"", where)));
  }
  OPFLEET_TRY(w.at, json_duration(j["at"], fmt::format("{}.at", where)));
  OPFLEET_TRY(w.length, json_duration(j["length"], fmt::format("{}.length", where)));
  if (j.contains("target")) {
    if (!j["target"].is_string()) return fail(invalid(fmt::format("{}.target: a string", where)));
    OPFLEET_TRY(w.target, scaler::parse_partition_target(j["target"].get<std::string>()));
  }
  if (j.contains("mode")) {
    if (!j["mode"].is_string()) return fail(invalid(fmt::format("{}.mode: a string", where)));
    w.mode = j["mode"].get<std::string>();
  }
  return w;
}

void apply(Scenario& s, const Overrides& o) {
  if (o.duration) s.duration = *o.duration;
  if (o.rate) s.rate = *o.rate;
  if (o.mix) s.mix = *o.mix;
  if (o.time_scale) s.time_scale = *o.time_scale;
  if (o.arrivals) s.arrivals = *o.arrivals;
  if (o.seed) s.seed = *o.seed;
  if (o.kill_every) s.kill_every = *o.kill_every;
  if (o.kill_start) s.kill_start = *o.kill_start;
  if (o.kill_count) s.kill_count = *o.kill_count;
  s.kill_at.insert(s.kill_at.end(), o.kill_at.begin(), o.kill_at.end());
  if (!o.partitions.empty()) s.partitions = o.partitions;
}

// A kill schedule without its own start begins one interval in.
void settle_defaults(Scenario& s) {
  if (s.kill_every.count() > 0 && s.kill_start.count() == 0) s.kill_start = s.kill_every;
  std::sort(s.kill_at.begin(), s.kill_at.end());
  std::sort(s.partitions.begin(), s.partitions.end(),
            [](const auto& a, const auto& b) { return a.at < b.at; });
}

}  // namespace

const char* to_string(Arrivals a) {
  return a == Arrivals::kPoisson ? "poisson" : "uniform";
}

bool Burst::active_at(Millis t) const {
  if (!enabled() || t < start) return false;
  return (t - start) % every < length;
}

bool Scenario::needs_partition_control(PartitionTarget t) const {
  return std::any_of(partitions.begin(), partitions.end(), [t](const PartitionWindow& w) {
    return w.target == t || w.target == PartitionTarget::kBoth;
  });
}

Millis Scenario::last_event() const {
  Millis end = duration;
  for (const auto& w : partitions) end = std::max(end, w.at + w.length);
  for (const auto& k : kill_at) end = std::max(end, k);
  return end;
}

Status Scenario::validate() const {
  if (duration.count() <= 0) return fail(invalid("duration: must be positive"));
  if (!(rate > 0) || !std::isfinite(rate)) return fail(invalid("rate: must be positive"));
  if (rate * static_cast<double>(duration.count()) / 1000.0 > 1e6) {
    return fail(invalid("rate: more than a million runs in one simulation"));
  }
  if (mix.empty()) return fail(invalid("mix: needs at least one job"));
  std::set<std::string> seen;
  for (const auto& share : mix) {
    if (!(share.weight > 0) || !std::isfinite(share.weight)) {
      return fail(invalid(fmt::format("mix: the share of {} must be positive", share.job)));
    }
    if (!seen.insert(share.job).second) {
      return fail(invalid(fmt::format("mix: {} is listed twice", share.job)));
    }
  }
  if (!(time_scale > 0) || time_scale > 1000) {
    return fail(invalid("time_scale: must be in (0, 1000]"));
  }
  if (burst.enabled()) {
    if (burst.length >= burst.every) {
      return fail(invalid("burst: length must be shorter than its period (every)"));
    }
    if (!(burst.factor >= 1) || burst.factor > 1000) {
      return fail(invalid("burst: factor must be between 1 and 1000"));
    }
  } else if (burst.every.count() > 0 || burst.length.count() > 0) {
    return fail(invalid("burst: needs both every and length"));
  }
  if (kill_count < 1 || kill_count > 1000) {
    return fail(invalid("kill_count: must be between 1 and 1000"));
  }
  if (kill_every.count() > 0 && kill_every < Millis(100)) {
    return fail(invalid("kill_every: at least 100ms"));
  }
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    const auto& w = partitions[i];
    if (w.length.count() <= 0) {
      return fail(invalid(fmt::format("partitions[{}]: length must be positive", i)));
    }
    if (w.mode != "blackhole" && w.mode != "reject") {
      return fail(
          invalid(fmt::format("partitions[{}]: mode '{}' is not blackhole or reject", i, w.mode)));
    }
    // One proxy has one mode at a time: windows must not overlap (sorted by `at`).
    if (i > 0 && partitions[i - 1].at + partitions[i - 1].length > w.at) {
      return fail(invalid(fmt::format("partitions[{}]: overlaps the window before it", i)));
    }
  }
  return ok();
}

std::vector<std::string> builtin_names() {
  return {"steady", "burst", "mixed", "worker-failure", "network-partition"};
}

Result<Scenario> builtin(std::string_view name, Millis duration) {
  Scenario s;
  s.name = std::string(name);
  s.duration = duration;
  const auto part = [&](double fraction) {
    return Millis(static_cast<std::int64_t>(static_cast<double>(duration.count()) * fraction));
  };
  if (name == "steady") {
    s.description = "a constant submission rate of fast jobs";
    s.mix = {{"fast_job", 1}};
  } else if (name == "burst") {
    s.description = "the steady rate with spikes of 5x (a fifth of each third of the run)";
    s.mix = {{"fast_job", 1}};
    s.burst.every = part(1.0 / 3);
    s.burst.length = s.burst.every / 5;
    s.burst.start = s.burst.every / 2;
    s.burst.factor = 5;
  } else if (name == "mixed") {
    s.description = "fast, slow and mixed jobs (70/20/10)";
    s.mix = {{"fast_job", 0.7}, {"slow_job", 0.2}, {"mixed_job", 0.1}};
  } else if (name == "worker-failure") {
    s.description = "fast and slow jobs; a busy worker is SIGKILLed every quarter of the run";
    s.mix = {{"fast_job", 0.7}, {"slow_job", 0.3}};
    s.kill_every = part(0.25);
    s.kill_start = part(0.25);
  } else if (name == "network-partition") {
    s.description = "fast jobs; the workers are cut off SQS and PostgreSQL from 30% to 55%";
    s.mix = {{"fast_job", 1}};
    s.partitions = {{part(0.30), part(0.25), PartitionTarget::kBoth, "blackhole"}};
  } else {
    return fail(invalid(
        fmt::format("unknown scenario '{}' (known: {})", name, fmt::join(builtin_names(), ", "))));
  }
  return s;
}

Result<Scenario> make_scenario(std::string_view builtin_name, const Overrides& overrides) {
  OPFLEET_TRY(auto s, builtin(builtin_name, overrides.duration.value_or(Millis(60000))));
  apply(s, overrides);
  settle_defaults(s);
  OPFLEET_TRY_STATUS(s.validate());
  return s;
}

Result<Scenario> make_scenario(const nlohmann::json& file, std::string_view file_name,
                               const Overrides& overrides) {
  auto wrap = [&](const Error& e) {
    return fail(invalid(fmt::format("scenario file {}: {}", file_name, e.message)));
  };
  if (auto st = check_keys(
          file, "scenario",
          {"name", "description", "base", "duration", "rate", "mix", "time_scale", "arrivals",
           "seed", "burst", "kill_at", "kill_every", "kill_start", "kill_count", "partitions"});
      !st) {
    return wrap(st.error());
  }
  Millis duration = overrides.duration.value_or(Millis(60000));
  if (!overrides.duration && file.contains("duration")) {
    auto d = json_duration(file["duration"], "duration");
    if (!d) return wrap(d.error());
    duration = *d;
  }
  Scenario s;
  s.duration = duration;
  if (file.contains("base")) {
    if (!file["base"].is_string()) return wrap(invalid("base: the name of a built-in scenario"));
    auto b = builtin(file["base"].get<std::string>(), duration);
    if (!b) return wrap(b.error());
    s = std::move(*b);
  }
  const auto read = [&]() -> Status {
    if (file.contains("name")) {
      if (!file["name"].is_string()) return fail(invalid("name: must be a string"));
      s.name = file["name"].get<std::string>();
    }
    if (file.contains("description") && file["description"].is_string()) {
      s.description = file["description"].get<std::string>();
    }
    if (file.contains("rate")) {
      OPFLEET_TRY(s.rate, json_number(file["rate"], "rate"));
    }
    if (file.contains("time_scale")) {
      OPFLEET_TRY(s.time_scale, json_number(file["time_scale"], "time_scale"));
    }
    if (file.contains("mix")) {
      const auto& m = file["mix"];
      if (!m.is_object()) return fail(invalid("mix: an object of job name -> share"));
      s.mix.clear();
      for (const auto& [job, share] : m.items()) {
        OPFLEET_TRY(auto w, json_number(share, fmt::format("mix.{}", job)));
        s.mix.push_back({job, w});
      }
    }
    if (file.contains("arrivals")) {
      if (!file["arrivals"].is_string()) return fail(invalid("arrivals: uniform or poisson"));
      OPFLEET_TRY(s.arrivals, parse_arrivals(file["arrivals"].get<std::string>()));
    }
    if (file.contains("seed")) {
      if (!file["seed"].is_number_unsigned()) return fail(invalid("seed: a non-negative integer"));
      s.seed = file["seed"].get<std::uint64_t>();
    }
    if (file.contains("burst")) {
      const auto& b = file["burst"];
      OPFLEET_TRY_STATUS(check_keys(b, "burst", {"every", "length", "start", "factor"}));
      s.burst = Burst{};
      if (b.contains("every")) {
        OPFLEET_TRY(s.burst.every, json_duration(b["every"], "burst.every"));
      }
      if (b.contains("length")) {
        OPFLEET_TRY(s.burst.length, json_duration(b["length"], "burst.length"));
      }
      s.burst.start = s.burst.every / 2;
      if (b.contains("start")) {
        OPFLEET_TRY(s.burst.start, json_duration(b["start"], "burst.start"));
      }
      if (b.contains("factor")) {
        OPFLEET_TRY(s.burst.factor, json_number(b["factor"], "burst.factor"));
      }
    }
    if (file.contains("kill_at")) {
      if (!file["kill_at"].is_array()) return fail(invalid("kill_at: a list of durations"));
      s.kill_at.clear();
      for (const auto& t : file["kill_at"]) {
        OPFLEET_TRY(auto at, json_duration(t, "kill_at[]"));
        s.kill_at.push_back(at);
      }
    }
    if (file.contains("kill_every")) {
      OPFLEET_TRY(s.kill_every, json_duration(file["kill_every"], "kill_every"));
    }
    if (file.contains("kill_start")) {
      OPFLEET_TRY(s.kill_start, json_duration(file["kill_start"], "kill_start"));
    }
    if (file.contains("kill_count")) {
      if (!file["kill_count"].is_number_integer()) return fail(invalid("kill_count: an integer"));
      s.kill_count = file["kill_count"].get<int>();
    }
    if (file.contains("partitions")) {
      if (!file["partitions"].is_array()) return fail(invalid("partitions: a list of windows"));
      s.partitions.clear();
      for (std::size_t i = 0; i < file["partitions"].size(); ++i) {
        OPFLEET_TRY(auto w,
                    partition_from_json(file["partitions"][i], fmt::format("partitions[{}]", i)));
        s.partitions.push_back(std::move(w));
      }
    }
    return ok();
  };
  if (auto st = read(); !st) return wrap(st.error());
  if (s.name.empty()) s.name = std::string(file_name);
  apply(s, overrides);
  settle_defaults(s);
  if (auto st = s.validate(); !st) return wrap(st.error());
  return s;
}

Result<std::vector<JobShare>> parse_mix(std::string_view text) {
  std::vector<JobShare> out;
  for (auto part : split(text, ',')) {
    part = trim(part);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail(invalid(fmt::format("mix: '{}' is not JOB=SHARE", part)));
    }
    OPFLEET_TRY(auto w, parse_number(part.substr(eq + 1), fmt::format("mix {}", part)));
    out.push_back({std::string(trim(part.substr(0, eq))), w});
  }
  return out;
}

Result<PartitionWindow> parse_partition(std::string_view text) {
  const auto fields = split(text, ':');
  if (fields.size() > 3) {
    return fail(invalid(fmt::format("partition '{}': AT+LENGTH[:TARGET[:MODE]]", text)));
  }
  const auto plus = fields[0].find('+');
  if (plus == std::string_view::npos) {
    return fail(invalid(fmt::format("partition '{}': AT+LENGTH such as 20s+10s", text)));
  }
  PartitionWindow w;
  OPFLEET_TRY(w.at, config::parse_duration(trim(fields[0].substr(0, plus))));
  OPFLEET_TRY(w.length, config::parse_duration(trim(fields[0].substr(plus + 1))));
  if (fields.size() > 1) {
    OPFLEET_TRY(w.target, scaler::parse_partition_target(fields[1]));
  }
  if (fields.size() > 2) w.mode = std::string(fields[2]);
  if (w.mode != "blackhole" && w.mode != "reject") {
    return fail(invalid(fmt::format("partition '{}': mode must be blackhole or reject", text)));
  }
  return w;
}

Result<std::vector<Millis>> parse_times(std::string_view text) {
  std::vector<Millis> out;
  for (auto part : split(text, ',')) {
    OPFLEET_TRY(auto t, config::parse_duration(trim(part)));
    out.push_back(t);
  }
  return out;
}

nlohmann::json to_json(const Scenario& s) {
  const auto d = [](Millis m) { return config::format_duration(m); };
  nlohmann::json mix = nlohmann::json::object();
  for (const auto& share : s.mix) mix[share.job] = share.weight;
  nlohmann::json j = {{"name", s.name},
                      {"description", s.description},
                      {"duration", d(s.duration)},
                      {"rate", s.rate},
                      {"mix", mix},
                      {"time_scale", s.time_scale},
                      {"arrivals", to_string(s.arrivals)},
                      {"seed", s.seed},
                      {"kill_count", s.kill_count}};
  if (s.burst.enabled()) {
    j["burst"] = {{"every", d(s.burst.every)},
                  {"length", d(s.burst.length)},
                  {"start", d(s.burst.start)},
                  {"factor", s.burst.factor}};
  }
  nlohmann::json kills = nlohmann::json::array();
  for (const auto& t : s.kill_at) kills.push_back(d(t));
  j["kill_at"] = kills;
  j["kill_every"] = d(s.kill_every);
  j["kill_start"] = d(s.kill_start);
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& w : s.partitions) {
    parts.push_back({{"at", d(w.at)},
                     {"length", d(w.length)},
                     {"target", scaler::to_string(w.target)},
                     {"mode", w.mode}});
  }
  j["partitions"] = parts;
  return j;
}

}  // namespace opfleet::loadsim
