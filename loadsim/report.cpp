#include "loadsim/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "config/validate.h"

namespace opfleet::loadsim {
namespace {

bool terminal_run(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

double to_ms(double seconds) {
  return seconds * 1000.0;
}

struct Latencies {
  LatencySummary queue_wait;      // ready -> first execution started
  LatencySummary execution;       // the succeeded execution
  LatencySummary op_end_to_end;   // ready -> finished (retries and recoveries included)
  LatencySummary run_end_to_end;  // submitted -> finished
  LatencySummary submit;          // one submission (run created, roots sent)
  LatencySummary submit_lag;      // a submission's start behind its planned instant
};

Latencies latencies(const Report& r) {
  std::vector<double> wait, exec, op_e2e, run_e2e;
  for (const auto& op : r.ops) {
    if (op.ready && op.first_start) wait.push_back(to_ms(*op.first_start - *op.ready));
    if (op.ok_start && op.ok_end) exec.push_back(to_ms(*op.ok_end - *op.ok_start));
    if (op.ready && op.finished && op.status == "succeeded") {
      op_e2e.push_back(to_ms(*op.finished - *op.ready));
    }
  }
  for (const auto& run : r.runs) {
    if (run.finished) run_e2e.push_back(to_ms(*run.finished - run.submitted));
  }
  return {summarize(wait),    summarize(exec),        summarize(op_e2e),
          summarize(run_e2e), summarize(r.submit_ms), summarize(r.submit_lag_ms)};
}

struct Counts {
  std::map<std::string, std::int64_t> runs;  // by status, plus "unfinished"
  std::map<std::string, std::int64_t> ops;   // by status
  std::int64_t executions = 0;
  std::int64_t reexecuted = 0;  // ops with more than one execution
};

Counts counts(const Report& r) {
  Counts c;
  for (const auto& run : r.runs) ++c.runs[terminal_run(run.status) ? run.status : "unfinished"];
  for (const auto& op : r.ops) {
    ++c.ops[op.status];
    c.executions += op.executions;
    if (op.executions > 1) ++c.reexecuted;
  }
  return c;
}

std::int64_t get(const std::map<std::string, std::int64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

// Throughput over the whole simulation: completions between the start and the last one.
struct Throughput {
  double runs_per_s = 0;
  double ops_per_s = 0;
  double peak_ops_per_s = 0;
  double span_s = 0;
};

Throughput throughput(const Report& r) {
  Throughput t;
  double last = 0;
  std::int64_t runs_done = 0;
  std::int64_t ops_done = 0;
  for (const auto& run : r.runs) {
    if (run.finished) {
      ++runs_done;
      last = std::max(last, *run.finished - r.start_epoch);
    }
  }
  for (const auto& op : r.ops) {
    if (op.finished && op.status == "succeeded") {
      ++ops_done;
      last = std::max(last, *op.finished - r.start_epoch);
    }
  }
  t.span_s = last;
  if (last > 0) {
    t.runs_per_s = static_cast<double>(runs_done) / last;
    t.ops_per_s = static_cast<double>(ops_done) / last;
  }
  for (const auto& s : r.samples) {
    if (s.ops_per_s) t.peak_ops_per_s = std::max(t.peak_ops_per_s, *s.ops_per_s);
  }
  return t;
}

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

double round_to(double v, double unit) {
  return std::round(v / unit) * unit;
}

nlohmann::json fault_json(const FaultRecord& f) {
  return {{"source", f.source},
          {"kind", f.kind},
          {"at_s", round_to(f.at_s, 0.001)},
          {"end_s", f.end_s ? nlohmann::json(round_to(*f.end_s, 0.001)) : nlohmann::json(nullptr)},
          {"ok", f.ok},
          {"detail", f.detail}};
}

std::string csv_cell(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}

std::string ms(double v) {
  if (v >= 10000) return fmt::format("{:.1f}s", v / 1000);
  if (v >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

std::string latency_row(std::string_view name, const LatencySummary& s) {
  if (s.count == 0) return fmt::format("  {:<16} {:>6}  (none)\n", name, 0);
  return fmt::format("  {:<16} {:>6} {:>9} {:>9} {:>9} {:>9}\n", name, s.count, ms(s.p50_ms),
                     ms(s.p95_ms), ms(s.p99_ms), ms(s.max_ms));
}

}  // namespace

Verdict verdict(const Report& r) {
  Verdict v;
  const auto add = [&](std::string reason) {
    v.ok = false;
    v.reasons.push_back(std::move(reason));
  };
  if (r.interrupted) add("interrupted before the end");
  if (r.submit_failed > 0) {
    add(fmt::format("{} submissions failed (last: {})", r.submit_failed, r.last_submit_error));
  }
  if (!r.settled) {
    std::int64_t unfinished = 0;
    for (const auto& run : r.runs) unfinished += terminal_run(run.status) ? 0 : 1;
    add(fmt::format("{} runs did not finish within the settle timeout", unfinished));
  }
  if (!r.audit) {
    add("the audit did not run: " + r.audit_error);
  } else if (!r.audit->ok()) {
    const auto& c = r.audit->counts;
    add(fmt::format("exactly-once audit failed: {} duplicates, {} overlaps, {} lost, {} stuck",
                    c.duplicates, c.overlaps, c.lost, c.stuck));
  }
  for (const auto& f : r.faults) {
    if (!f.ok && f.source == "loadsim") {
      add(fmt::format("a {} fault at {:.1f}s was not injected as planned: {}", f.kind, f.at_s,
                      f.detail));
    }
  }
  return v;
}

nlohmann::json to_json(const Report& r) {
  const auto c = counts(r);
  const auto l = latencies(r);
  const auto t = throughput(r);
  const auto v = verdict(r);

  nlohmann::json by_job = nlohmann::json::object();
  std::map<std::string, std::vector<double>> e2e_by_job;
  for (const auto& run : r.runs) {
    auto& j = by_job[run.job];
    if (j.is_null()) j = {{"runs", 0}, {"succeeded", 0}, {"failed", 0}, {"unfinished", 0}};
    j["runs"] = j["runs"].get<std::int64_t>() + 1;
    const std::string k = terminal_run(run.status) ? run.status : "unfinished";
    if (j.contains(k)) j[k] = j[k].get<std::int64_t>() + 1;
    if (run.finished) e2e_by_job[run.job].push_back(to_ms(*run.finished - run.submitted));
  }
  for (auto& [job, values] : e2e_by_job) by_job[job]["run_end_to_end"] = to_json(summarize(values));

  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : r.samples) {
    series.push_back({{"t_s", round_to(s.t_s, 0.001)},
                      {"runs_submitted", s.runs_submitted},
                      {"runs_finished", opt(s.runs_finished)},
                      {"queue_visible", opt(s.queue_visible)},
                      {"queue_in_flight", opt(s.queue_in_flight)},
                      {"ops_waiting", opt(s.ops_waiting)},
                      {"ops_running", opt(s.ops_running)},
                      {"ops_done", opt(s.ops_done)},
                      {"ops_per_s", s.ops_per_s ? nlohmann::json(round_to(*s.ops_per_s, 0.01))
                                                : nlohmann::json(nullptr)},
                      {"workers", opt(s.workers)}});
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const auto& f : r.faults) faults.push_back(fault_json(f));

  std::optional<std::int64_t> min_workers;
  std::optional<std::int64_t> max_workers;
  for (const auto& s : r.samples) {
    if (!s.workers) continue;
    min_workers = std::min(min_workers.value_or(*s.workers), *s.workers);
    max_workers = std::max(max_workers.value_or(*s.workers), *s.workers);
  }

  return {
      {"scenario", to_json(r.scenario)},
      {"tag", r.tag},
      {"started_at", r.started_at},
      {"finished_at", r.finished_at},
      {"wall_s", round_to(r.wall_s, 0.001)},
      {"submissions_end_s", round_to(r.submit_end_s, 0.001)},
      {"interrupted", r.interrupted},
      {"settled", r.settled},
      {"runs",
       {{"planned", r.planned},
        {"submitted", r.submitted},
        {"submit_failed", r.submit_failed},
        {"succeeded", get(c.runs, "succeeded")},
        {"failed", get(c.runs, "failed")},
        {"cancelled", get(c.runs, "cancelled")},
        {"unfinished", get(c.runs, "unfinished")},
        {"by_job", by_job}}},
      {"ops",
       {{"total", static_cast<std::int64_t>(r.ops.size())},
        {"succeeded", get(c.ops, "succeeded")},
        {"failed", get(c.ops, "failed")},
        {"skipped", get(c.ops, "skipped")},
        {"unfinished", static_cast<std::int64_t>(r.ops.size()) - get(c.ops, "succeeded") -
                           get(c.ops, "failed") - get(c.ops, "skipped")},
        {"executions", c.executions},
        {"reexecuted", c.reexecuted}}},
      {"latency",
       {{"queue_wait", to_json(l.queue_wait)},
        {"execution", to_json(l.execution)},
        {"op_end_to_end", to_json(l.op_end_to_end)},
        {"run_end_to_end", to_json(l.run_end_to_end)},
        {"submit", to_json(l.submit)},
        {"submit_lag", to_json(l.submit_lag)}}},
      {"throughput",
       {{"runs_per_s", round_to(t.runs_per_s, 0.001)},
        {"ops_per_s", round_to(t.ops_per_s, 0.001)},
        {"peak_ops_per_s", round_to(t.peak_ops_per_s, 0.01)},
        {"span_s", round_to(t.span_s, 0.001)}}},
      {"workers", {{"min", opt(min_workers)}, {"max", opt(max_workers)}}},
      {"faults", faults},
      {"series", series},
      {"audit", r.audit ? audit::to_json(*r.audit) : nlohmann::json(nullptr)},
      {"audit_error", r.audit_error},
      {"verdict", {{"ok", v.ok}, {"reasons", v.reasons}}},
  };
}

std::string to_csv(const Report& r) {
  std::string out =
      "t_s,runs_submitted,runs_finished,queue_visible,queue_in_flight,ops_waiting,ops_running,"
      "ops_done,ops_per_s,workers,faults_active\n";
  for (const auto& s : r.samples) {
    // Which fault windows cover this instant, and kills since the previous sample: the
    // spreadsheet user sees the faults beside the numbers.
    std::vector<std::string> active;
    for (const auto& f : r.faults) {
      if (f.end_s && f.at_s <= s.t_s && s.t_s < *f.end_s) active.push_back(f.kind);
    }
    out += fmt::format("{:.3f},{},{},{},{},{},{},{},{},{},{}\n", s.t_s, s.runs_submitted,
                       csv_cell(s.runs_finished), csv_cell(s.queue_visible),
                       csv_cell(s.queue_in_flight), csv_cell(s.ops_waiting),
                       csv_cell(s.ops_running), csv_cell(s.ops_done),
                       s.ops_per_s ? fmt::format("{:.2f}", *s.ops_per_s) : std::string(),
                       csv_cell(s.workers), fmt::join(active, "+"));
  }
  return out;
}

ChartSpec chart_spec(const Report& r) {
  ChartSpec spec;
  spec.title = fmt::format("opfleet loadsim: {}", r.scenario.name);
  spec.subtitle = fmt::format(
      "{} runs submitted at {} runs/s for {} (time scale {}), {} faults; audit {}", r.submitted,
      r.scenario.rate, config::format_duration(r.scenario.duration), r.scenario.time_scale,
      r.faults.size(), r.audit ? (r.audit->ok() ? "clean" : "FAILED") : "not run");
  const auto series = [&](std::string name, auto field, bool step) {
    ChartSeries s;
    s.name = std::move(name);
    s.step = step;
    for (const auto& sample : r.samples) {
      if (auto value = field(sample)) s.points.emplace_back(sample.t_s, double(*value));
    }
    return s;
  };
  spec.panels.push_back(
      {"Queue depth",
       "messages",
       {series(
            "visible", [](const Sample& s) { return s.queue_visible; }, true),
        series(
            "in flight", [](const Sample& s) { return s.queue_in_flight; }, true)}});
  spec.panels.push_back({"Ops",
                         "steps",
                         {series(
                              "running", [](const Sample& s) { return s.ops_running; }, true),
                          series(
                              "waiting", [](const Sample& s) { return s.ops_waiting; }, true)}});
  spec.panels.push_back({"Workers",
                         "processes",
                         {series(
                             "running", [](const Sample& s) { return s.workers; }, true)}});
  spec.panels.push_back(
      {"Completions",
       "ops/s",
       {series(
           "ops completed", [](const Sample& s) { return s.ops_per_s; }, false)}});
  int kill = 0;
  for (const auto& f : r.faults) {
    const std::string who = f.source == "loadsim" ? "" : fmt::format(" ({})", f.source);
    if (f.end_s) {
      spec.windows.push_back(
          {f.at_s, *f.end_s, fmt::format("{}{}{}", f.kind, who, f.ok ? "" : " FAILED")});
    } else if (f.kind == "kill_worker") {
      spec.marks.push_back(
          {f.at_s, fmt::format("kill {}{}{}", ++kill, who, f.ok ? "" : " (failed)")});
    } else {
      spec.marks.push_back({f.at_s, f.kind + who});
    }
  }
  return spec;
}

std::string format_summary(const Report& r) {
  const auto c = counts(r);
  const auto l = latencies(r);
  const auto t = throughput(r);
  const auto v = verdict(r);
  std::string out;
  out += fmt::format("loadsim {}: {} at {} runs/s, time scale {}, tag {}\n", r.scenario.name,
                     config::format_duration(r.scenario.duration), r.scenario.rate,
                     r.scenario.time_scale, r.tag);
  out += fmt::format(
      "runs      planned {}  submitted {}  failed to submit {}  succeeded {}  "
      "failed {}  unfinished {}\n",
      r.planned, r.submitted, r.submit_failed, get(c.runs, "succeeded"), get(c.runs, "failed"),
      get(c.runs, "unfinished"));
  out += fmt::format(
      "ops       {} steps  succeeded {}  failed {}  skipped {}  executions {} "
      "({} ops ran more than once)\n",
      r.ops.size(), get(c.ops, "succeeded"), get(c.ops, "failed"), get(c.ops, "skipped"),
      c.executions, c.reexecuted);
  out += fmt::format("latency (ms) {:>9} {:>9} {:>9} {:>9} {:>9}\n", "count", "p50", "p95", "p99",
                     "max");
  out += latency_row("queue wait", l.queue_wait);
  out += latency_row("execution", l.execution);
  out += latency_row("op end to end", l.op_end_to_end);
  out += latency_row("run end to end", l.run_end_to_end);
  out += latency_row("submit", l.submit);
  std::optional<std::int64_t> lo;
  std::optional<std::int64_t> hi;
  for (const auto& s : r.samples) {
    if (!s.workers) continue;
    lo = std::min(lo.value_or(*s.workers), *s.workers);
    hi = std::max(hi.value_or(*s.workers), *s.workers);
  }
  out += fmt::format("throughput {:.2f} ops/s, {:.2f} runs/s over {:.1f}s; peak {:.1f} ops/s\n",
                     t.ops_per_s, t.runs_per_s, t.span_s, t.peak_ops_per_s);
  if (lo) out += fmt::format("workers   {} to {} over the run\n", *lo, *hi);
  if (r.faults.empty()) out += "faults    none\n";
  for (const auto& f : r.faults) {
    out += fmt::format("fault     +{:6.1f}s {:<12} {:<8} {}{}{}\n", f.at_s, f.kind, f.source,
                       f.end_s ? fmt::format("until +{:.1f}s: ", *f.end_s) : std::string(),
                       f.detail, f.ok ? "" : " [FAILED]");
  }
  if (r.audit) {
    const auto& a = *r.audit;
    out += fmt::format(
        "audit     {}: {} runs, {} steps, {} executions; {} duplicates, {} "
        "overlaps, {} lost, {} stuck\n",
        a.ok() ? "PASS" : "FAIL", a.runs, a.steps, a.executions, a.counts.duplicates,
        a.counts.overlaps, a.counts.lost, a.counts.stuck);
  } else {
    out += fmt::format("audit     not run: {}\n", r.audit_error);
  }
  out += fmt::format("verdict   {}\n",
                     v.ok ? "PASS" : "FAIL: " + fmt::format("{}", fmt::join(v.reasons, "; ")));
  for (const auto& f : r.files) out += fmt::format("wrote     {}\n", f);
  return out;
}

Status write_report_files(Report& r, const std::string& json_path) {
  namespace fs = std::filesystem;
  const fs::path base(json_path);
  const auto sibling = [&](const char* ext) {
    fs::path p = base;
    p.replace_extension(ext);
    return p.string();
  };
  std::error_code ec;
  if (base.has_parent_path()) fs::create_directories(base.parent_path(), ec);
  r.files = {json_path, sibling(".csv"), sibling(".svg")};
  const std::vector<std::pair<std::string, std::string>> files = {
      {r.files[0], to_json(r).dump(2) + "\n"},
      {r.files[1], to_csv(r)},
      {r.files[2], render_svg(chart_spec(r))}};
  for (const auto& [path, text] : files) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return fail(Error::internal(fmt::format("cannot write {}", path)));
  }
  return ok();
}

}  // namespace opfleet::loadsim
