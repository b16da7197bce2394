// The two forms of an AuditReport: JSON for machines, tables for people.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "audit/audit.h"
#include "config/validate.h"

namespace opfleet::audit {

namespace {

using json = nlohmann::json;

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json to_json(const Execution& e) {
  return json{{"id", e.id},
              {"attempt", e.attempt},
              {"worker_id", e.worker_id},
              {"started_at", or_null(e.started_at)},
              {"ended_at", or_null(e.ended_at)},
              {"outcome", e.outcome}};
}

// Columns padded to their widest cell; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += "  " + line + "\n";
  }
  return out;
}

std::string dash_if_empty(const std::string& s) {
  return s.empty() ? "-" : s;
}

std::string section(std::string_view title, std::int64_t count, std::size_t listed,
                    const std::vector<std::vector<std::string>>& rows) {
  if (count == 0) return {};
  std::string out = fmt::format("\n{} ({})\n", title, count);
  out += table(rows);
  if (static_cast<std::int64_t>(listed) < count) {
    out += fmt::format("  ... and {} more (raise --limit to list them)\n",
                       count - static_cast<std::int64_t>(listed));
  }
  return out;
}

std::string describe_filter(const AuditFilter& f) {
  std::vector<std::string> parts;
  if (!f.since.empty()) parts.push_back(fmt::format("submitted since {}", f.since));
  if (f.within) {
    parts.push_back(fmt::format("submitted within {}", config::format_duration(*f.within)));
  }
  for (const auto& [k, v] : f.tags) parts.push_back(fmt::format("tag {}={}", k, v));
  return parts.empty() ? "all runs" : fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

json to_json(const AuditReport& r) {
  json dups = json::array();
  for (const auto& d : r.duplicates) {
    dups.push_back({{"key", d.key},
                    {"run_id", d.run_id},
                    {"step_key", d.step_key},
                    {"step_status", d.step_status},
                    {"succeeded_executions", d.succeeded_executions},
                    {"reason", d.reason}});
  }
  json overlaps = json::array();
  for (const auto& o : r.overlaps) {
    overlaps.push_back({{"key", o.key},
                        {"run_id", o.run_id},
                        {"step_key", o.step_key},
                        {"first", to_json(o.first)},
                        {"second", to_json(o.second)}});
  }
  json lost = json::array();
  for (const auto& l : r.lost) {
    lost.push_back({{"key", l.key},
                    {"run_id", l.run_id},
                    {"step_key", l.step_key},
                    {"step_status", l.step_status},
                    {"run_status", l.run_status},
                    {"run_submitted_at", l.run_submitted_at},
                    {"reason", l.reason}});
  }
  json stuck = json::array();
  for (const auto& s : r.stuck) {
    stuck.push_back({{"run_id", s.run_id},
                     {"job", s.job},
                     {"status", s.status},
                     {"submitted_at", s.submitted_at},
                     {"last_activity", or_null(s.last_activity)},
                     {"reason", s.reason}});
  }
  json tags = json::object();
  for (const auto& [k, v] : r.filter.tags) tags[k] = v;
  const bool truncated = static_cast<std::int64_t>(r.duplicates.size()) < r.counts.duplicates ||
                         static_cast<std::int64_t>(r.overlaps.size()) < r.counts.overlaps ||
                         static_cast<std::int64_t>(r.lost.size()) < r.counts.lost ||
                         static_cast<std::int64_t>(r.stuck.size()) < r.counts.stuck;
  return json{
      {"runs", r.runs},
      {"steps", r.steps},
      {"executions", r.executions},
      {"violations",
       {{"duplicates", dups}, {"overlaps", overlaps}, {"lost", lost}, {"stuck", stuck}}},
      {"counts",
       {{"duplicates", r.counts.duplicates},
        {"overlaps", r.counts.overlaps},
        {"lost", r.counts.lost},
        {"stuck", r.counts.stuck}}},
      {"truncated", truncated},
      {"checked_at", r.checked_at},
      {"filter",
       {{"since", or_null(r.filter.since)},
        {"within_s", r.filter.within ? json(static_cast<double>(r.filter.within->count()) / 1000.0)
                                     : json(nullptr)},
        {"tags", tags},
        {"lost_after_s", static_cast<double>(r.filter.lost_after.count()) / 1000.0},
        {"stuck_after_s", static_cast<double>(r.filter.stuck_after.count()) / 1000.0}}},
      {"ok", r.ok()},
  };
}

std::string format_report(const AuditReport& r) {
  std::string out =
      fmt::format("audit of {}: {} runs, {} steps, {} executions (at {})\n",
                  describe_filter(r.filter), r.runs, r.steps, r.executions, r.checked_at);
  out += table({{"duplicates", std::to_string(r.counts.duplicates)},
                {"overlaps", std::to_string(r.counts.overlaps)},
                {"lost", std::to_string(r.counts.lost)},
                {"stuck", std::to_string(r.counts.stuck)}});

  std::vector<std::vector<std::string>> rows{{"KEY", "STEP STATUS", "SUCCEEDED", "REASON"}};
  for (const auto& d : r.duplicates) {
    rows.push_back({d.key, d.step_status, std::to_string(d.succeeded_executions), d.reason});
  }
  out += section("DUPLICATES", r.counts.duplicates, r.duplicates.size(), rows);

  rows = {{"KEY", "ATTEMPT", "ID", "WORKER", "STARTED", "ENDED", "OUTCOME"}};
  for (const auto& o : r.overlaps) {
    for (const auto* e : {&o.first, &o.second}) {
      rows.push_back({e == &o.first ? o.key : "", std::to_string(e->attempt), std::to_string(e->id),
                      e->worker_id, e->started_at, dash_if_empty(e->ended_at), e->outcome});
    }
  }
  out += section("OVERLAPS", r.counts.overlaps, r.overlaps.size(), rows);

  rows = {{"KEY", "STEP STATUS", "RUN STATUS", "RUN SUBMITTED", "REASON"}};
  for (const auto& l : r.lost) {
    rows.push_back({l.key, l.step_status, l.run_status, l.run_submitted_at, l.reason});
  }
  out += section("LOST", r.counts.lost, r.lost.size(), rows);

  rows = {{"RUN", "JOB", "STATUS", "SUBMITTED", "LAST ACTIVITY", "REASON"}};
  for (const auto& s : r.stuck) {
    rows.push_back(
        {s.run_id, s.job, s.status, s.submitted_at, dash_if_empty(s.last_activity), s.reason});
  }
  out += section("STUCK", r.counts.stuck, r.stuck.size(), rows);

  out +=
      r.ok() ? "\nOK: no violations\n" : fmt::format("\nFAILED: {} violations\n", r.counts.total());
  return out;
}

}  // namespace opfleet::audit
