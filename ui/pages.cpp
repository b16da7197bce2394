#include "ui/pages.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "ui/query.h"
#include "ui/svg.h"

namespace opfleet::ui::pages {

using nlohmann::json;

namespace {

constexpr int kRefreshSeconds = 5;

// A field as display text: strings as they are, null as "", anything else as JSON.
std::string str(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

std::optional<double> num(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<double>();
}

std::string esc(const json& j, const char* key) {
  return html::escape(str(j, key));
}

std::string td(const std::string& safe_html, const char* cls = nullptr) {
  return cls ? fmt::format(R"(<td class="{}">{}</td>)", cls, safe_html)
             : fmt::format("<td>{}</td>", safe_html);
}

std::string card(const std::string& label, const std::string& safe_value) {
  return fmt::format(R"(<div class="card"><b>{}</b>{}</div>)", safe_value, html::escape(label));
}

std::string error_cell(const std::string& text, std::size_t max = 300) {
  if (text.empty()) return "";
  std::string shown = text.size() > max ? text.substr(0, max) + "…" : text;
  return fmt::format(R"(<div class="error">{}</div>)", html::escape(shown));
}

std::string tags_text(const json& tags) {
  std::string out;
  if (!tags.is_object()) return out;
  for (const auto& [k, v] : tags.items()) {
    if (!out.empty()) out += " ";
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

// Seconds between two ISO times (nullopt when either is missing).
std::optional<double> between(const std::string& a, const std::string& b) {
  const double x = epoch_seconds(a);
  const double y = epoch_seconds(b);
  if (std::isnan(x) || std::isnan(y)) return std::nullopt;
  return y - x;
}

std::string runs_href(const RunsFilter& f, int page) {
  std::string q;
  auto add = [&q](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    q += (q.empty() ? "?" : "&") + std::string(k) + "=" + percent_encode(v);
  };
  add("job", f.job);
  add("status", f.status);
  for (const auto& [k, v] : f.tags) add("tag", k + "=" + v);
  if (f.limit != 50) add("limit", std::to_string(f.limit));
  if (page != 1) add("page", std::to_string(page));
  return "/runs" + q;
}

}  // namespace

double epoch_seconds(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

html::Page runs(const json& doc, const RunsFilter& f) {
  std::string body = R"(<div class="cards">)";
  for (const auto* s : {"queued", "running", "succeeded", "failed", "cancelled"}) {
    const auto n = doc["counts"].value(s, std::int64_t{0});
    RunsFilter only;
    only.status = s;
    body += fmt::format(R"(<a class="card" href="{}"><b>{}</b>{}</a>)",
                        html::escape(runs_href(only, 1)), n, s);
  }
  body += "</div>";
  std::string options = R"(<option value="">any</option>)";
  for (const auto* s : {"queued", "running", "succeeded", "failed", "cancelled"}) {
    options += fmt::format(R"(<option{}>{}</option>)", f.status == s ? " selected" : "", s);
  }
  std::string tag_value;
  for (const auto& [k, v] : f.tags) tag_value = k + "=" + v;
  body += fmt::format(
      R"(<form class="filters" method="get" action="/runs">
<label>job<input name="job" value="{}"></label>
<label>status<select name="status">{}</select></label>
<label>tag (key=value)<input name="tag" value="{}"></label>
<label>per page<input name="limit" type="number" min="1" max="500" value="{}"></label>
<button type="submit">filter</button> <a href="/runs">clear</a></form>
)",
      html::escape(f.job), options, html::escape(tag_value), f.limit);
  body += fmt::format(R"(<p class="muted">{} run(s) match; page {} of {}.</p>)",
                      doc["total"].get<std::int64_t>(), f.page, doc["pages"].get<std::int64_t>());
  body += R"(<table id="runs"><thead><tr><th>run</th><th>job</th><th>status</th>)"
          R"(<th class="num">steps</th><th>submitted</th><th class="num">duration</th>)"
          R"(<th>tags</th><th>error</th></tr></thead><tbody>)";
  for (const auto& r : doc["runs"]) {
    const std::string id = str(r, "run_id");
    body += "<tr>" + td(html::link("/runs/" + percent_encode(id), id), "mono") + td(esc(r, "job")) +
            td(html::status(str(r, "status"))) +
            td(fmt::format("{}/{}", r.value("steps_done", 0), r.value("steps_total", 0)), "num") +
            td(html::time(str(r, "submitted_at"))) +
            td(html::duration(num(r, "duration_s")), "num") +
            td(html::escape(tags_text(r["tags"])), "mono") + td(error_cell(str(r, "error"), 160)) +
            "</tr>\n";
  }
  if (doc["runs"].empty()) body += R"(<tr><td colspan="8" class="muted">no runs</td></tr>)";
  body += "</tbody></table>";
  body += R"(<div class="pager">)";
  if (f.page > 1) body += html::link(runs_href(f, f.page - 1), "« newer");
  if (f.page < doc["pages"].get<std::int64_t>()) {
    body += html::link(runs_href(f, f.page + 1), "older »");
  }
  body += "</div>";
  return {"Runs", "runs", std::move(body), kRefreshSeconds};
}

namespace {

// The DAG: one column per depth, steps stacked in each; an edge from each dependency.
std::string dag_svg(const json& doc) {
  const auto levels = doc["levels"].get<std::map<std::string, int>>();
  std::map<int, std::vector<const json*>> columns;
  for (const auto& s : doc["steps"])
    columns[levels.at(s["step_key"].get<std::string>())].push_back(&s);
  constexpr int kW = 170, kH = 44, kGapX = 60, kGapY = 16, kPad = 12;
  std::size_t rows = 1;
  for (const auto& [lvl, col] : columns) rows = std::max(rows, col.size());
  const int width = kPad * 2 + static_cast<int>(columns.size()) * (kW + kGapX) - kGapX;
  const int height = kPad * 2 + static_cast<int>(rows) * (kH + kGapY) - kGapY;
  std::map<std::string, std::pair<int, int>> pos;  // step -> top-left
  for (const auto& [lvl, col] : columns) {
    for (std::size_t i = 0; i < col.size(); ++i) {
      pos[(*col[i])["step_key"].get<std::string>()] = {kPad + lvl * (kW + kGapX),
                                                       kPad + static_cast<int>(i) * (kH + kGapY)};
    }
  }
  static const std::map<std::string, std::string> kFill = {
      {"succeeded", "#d3f0d9"}, {"failed", "#f8d3d3"},  {"running", "#d6e6fb"},
      {"queued", "#fbf0c8"},    {"pending", "#f4f4f4"}, {"skipped", "#e7e7e7"}};
  std::string out = fmt::format(
      R"(<svg id="dag" class="dag" viewBox="0 0 {0} {1}" width="{0}" height="{1}" xmlns="http://www.w3.org/2000/svg">)",
      std::max(width, 200), height);
  for (const auto& s : doc["steps"]) {
    const auto [x, y] = pos.at(s["step_key"].get<std::string>());
    for (const auto& dep : s["depends_on"]) {
      auto it = pos.find(dep.get<std::string>());
      if (it == pos.end()) continue;
      out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a94a0"/>)",
                         it->second.first + kW, it->second.second + kH / 2, x, y + kH / 2);
    }
  }
  for (const auto& s : doc["steps"]) {
    const std::string key = s["step_key"].get<std::string>();
    const std::string st = str(s, "status");
    const auto [x, y] = pos.at(key);
    auto fill = kFill.find(st);
    out += fmt::format(
        R"(<g class="dag-node" data-step="{0}" data-status="{1}"><rect x="{2}" y="{3}" width="{4}" height="{5}" rx="6" fill="{6}" stroke="#8a94a0"/>)"
        R"(<text x="{7}" y="{8}" font-size="12" font-weight="600">{0}</text><text x="{7}" y="{9}" font-size="11">{1} · {10}</text></g>)",
        html::escape(key), html::escape(st), x, y, kW, kH,
        fill == kFill.end() ? "#ffffff" : fill->second, x + 8, y + 17, y + 34,
        html::escape(html::duration(num(s, "duration_s"))));
  }
  out += "</svg>";
  return out;
}

}  // namespace

html::Page run(const json& r) {
  const std::string id = str(r, "run_id");
  std::string body = R"(<table class="summary" id="run-summary"><tbody>)";
  body += "<tr><th>run</th>" + td(html::escape(id), "mono") + "</tr>";
  body += "<tr><th>job</th>" + td(esc(r, "job")) + "</tr>";
  body += "<tr><th>status</th>" + td(html::status(str(r, "status"))) + "</tr>";
  body += "<tr><th>tags</th>" + td(html::escape(tags_text(r["tags"])), "mono") + "</tr>";
  body += "<tr><th>submitted</th>" + td(html::time(str(r, "submitted_at"))) + "</tr>";
  body += "<tr><th>started</th>" + td(html::time(str(r, "started_at"))) + "</tr>";
  body += "<tr><th>finished</th>" + td(html::time(str(r, "finished_at"))) + "</tr>";
  body += "<tr><th>duration</th>" + td(html::duration(num(r, "duration_s"))) + "</tr>";
  body += "<tr><th>time scale</th>" + td(esc(r, "time_scale")) + "</tr>";
  if (!str(r, "error").empty())
    body += "<tr><th>error</th>" + td(error_cell(str(r, "error"), 4000)) + "</tr>";
  body += "</tbody></table>";
  body += "<h2>DAG</h2>" + dag_svg(r);
  body += R"(<h2>Steps</h2><table id="steps"><thead><tr><th>step</th><th>status</th>)"
          R"(<th class="num">attempt</th><th>after</th><th>started</th><th>finished</th>)"
          R"(<th class="num">duration</th><th>result / error</th></tr></thead><tbody>)";
  for (const auto& s : r["steps"]) {
    std::string after;
    for (const auto& d : s["depends_on"])
      after += (after.empty() ? "" : ", ") + d.get<std::string>();
    std::string outcome = error_cell(str(s, "error"), 4000);
    if (!s["result"].is_null()) {
      outcome += fmt::format("<pre>{}</pre>", html::escape(s["result"].dump()));
    }
    body += "<tr>" + td(esc(s, "step_key"), "mono") + td(html::status(str(s, "status"))) +
            td(fmt::format("{}/{}", s.value("attempt", 0), s.value("max_attempts", 0)), "num") +
            td(html::escape(after), "mono") + td(html::time(str(s, "started_at"))) +
            td(html::time(str(s, "finished_at"))) +
            td(html::duration(num(s, "duration_s")), "num") + td(outcome) + "</tr>\n";
  }
  body += "</tbody></table>";
  body += R"(<h2>Attempts</h2><table id="attempts"><thead><tr><th>step</th><th class="num">#</th>)"
          R"(<th>outcome</th><th>worker</th><th>host</th><th class="num">pid</th><th>started</th>)"
          R"(<th class="num">duration</th><th>error</th></tr></thead><tbody>)";
  for (const auto& a : r["attempts"]) {
    body += "<tr>" + td(esc(a, "step_key"), "mono") + td(esc(a, "attempt"), "num") +
            td(html::status(str(a, "outcome"))) + td(esc(a, "worker_id"), "mono") +
            td(esc(a, "host")) + td(esc(a, "pid"), "num") + td(html::time(str(a, "started_at"))) +
            td(html::duration(between(str(a, "started_at"), str(a, "ended_at"))), "num") +
            td(error_cell(str(a, "error"), 4000)) + "</tr>\n";
  }
  if (r["attempts"].empty())
    body += R"(<tr><td colspan="9" class="muted">no attempts yet</td></tr>)";
  body += "</tbody></table>";
  body += fmt::format(R"(<p><a href="/api/runs/{}">JSON</a> · <a href="/runs">all runs</a></p>)",
                      html::escape(percent_encode(id)));
  const bool finished = r.value("status", "") == "succeeded" || r.value("status", "") == "failed" ||
                        r.value("status", "") == "cancelled";
  return {"Run " + id, "runs", std::move(body), finished ? 0 : kRefreshSeconds};
}

html::Page fleet(const json& doc) {
  const auto& sups = doc["supervisors"];
  long live = 0, workers = 0, busy = 0, total = 0;
  for (const auto& s : sups) {
    if (s.value("stale", false)) continue;
    ++live;
    workers += s.value("workers", 0L);
    busy += s.value("busy_slots", 0L);
    total += s.value("total_slots", 0L);
  }
  std::string body = R"(<div class="cards">)";
  body += card("live supervisors", fmt::format("{}/{}", live, sups.size()));
  body += card("workers", std::to_string(workers));
  body += card("busy slots", fmt::format("{}/{}", busy, total));
  body += card("ops in flight", std::to_string(doc["in_flight"].size()));
  body += "</div>";
  body +=
      fmt::format(R"(<h2>Supervisors</h2><p class="muted">Heartbeats older than {} are stale.</p>)",
                  html::duration(num(doc, "stale_after_s")));
  body +=
      R"(<table id="supervisors"><thead><tr><th>host</th><th>instance</th><th class="num">pid</th>)"
      R"(<th>state</th><th class="num">workers</th><th class="num">busy/total slots</th>)"
      R"(<th>started</th><th>last heartbeat</th><th>workers</th></tr></thead><tbody>)";
  for (const auto& s : sups) {
    const bool stale = s.value("stale", false);
    std::string worker_list;
    const json& details = s["details"];
    if (details.is_object() && details.contains("workers") && details["workers"].is_array()) {
      for (const auto& w : details["workers"]) {
        std::string line;
        if (w.is_object()) {
          for (const auto& [k, v] : w.items()) {
            line += (line.empty() ? "" : " ") + k + "=" +
                    (v.is_string() ? v.get<std::string>() : v.dump());
          }
        } else {
          line = w.dump();
        }
        worker_list += fmt::format("<div>{}</div>", html::escape(line));
      }
    }
    body += "<tr>" + td(esc(s, "host")) + td(esc(s, "instance"), "mono") +
            td(esc(s, "pid"), "num") + td(html::status(str(s, "state"))) +
            td(esc(s, "workers"), "num") +
            td(fmt::format("{}/{}", s.value("busy_slots", 0), s.value("total_slots", 0)), "num") +
            td(html::time(str(s, "started_at"))) +
            td(html::time(str(s, "heartbeat_at")) +
               fmt::format(R"( <span class="{}">({} ago{})</span>)", stale ? "stale" : "muted",
                           html::duration(num(s, "heartbeat_age_s")), stale ? ", stale" : "")) +
            td(worker_list, "mono") + "</tr>\n";
  }
  if (sups.empty()) {
    body += R"(<tr><td colspan="9" class="muted">no supervisor has sent a heartbeat</td></tr>)";
  }
  body += "</tbody></table>";
  body +=
      R"(<h2>In-flight ops</h2><table id="in-flight"><thead><tr><th>run</th><th>job</th>)"
      R"(<th>step</th><th class="num">attempt</th><th>worker</th><th>host</th><th class="num">pid</th>)"
      R"(<th>started</th><th class="num">age</th><th class="num">lease left</th></tr></thead><tbody>)";
  for (const auto& o : doc["in_flight"]) {
    const std::string id = str(o, "run_id");
    body += "<tr>" + td(html::link("/runs/" + percent_encode(id), id), "mono") + td(esc(o, "job")) +
            td(esc(o, "step_key"), "mono") + td(esc(o, "attempt"), "num") +
            td(esc(o, "worker_id"), "mono") + td(esc(o, "host")) + td(esc(o, "pid"), "num") +
            td(html::time(str(o, "started_at"))) + td(html::duration(num(o, "age_s")), "num") +
            td(html::duration(num(o, "lease_left_s")), "num") + "</tr>\n";
  }
  if (doc["in_flight"].empty())
    body += R"(<tr><td colspan="10" class="muted">nothing running</td></tr>)";
  body += "</tbody></table>";
  return {"Fleet", "fleet", std::move(body), kRefreshSeconds};
}

namespace {

std::string window_form(const char* action, int minutes) {
  std::string options;
  for (const int m : {15, 60, 360, 1440, 10080}) {
    options += fmt::format(R"(<option value="{}"{}>{}</option>)", m,
                           m == minutes ? " selected" : "", html::duration(m * 60.0));
  }
  return fmt::format(
      R"(<form class="filters" method="get" action="{}"><label>window<select name="minutes">{}</select></label><button type="submit">show</button></form>)",
      action, options);
}

}  // namespace

html::Page queue(const json& doc) {
  const json& live = doc["live"];
  const int minutes = doc["window_minutes"].get<int>();
  std::string body = R"(<div class="cards">)";
  body += card("queued steps", esc(live, "queued"));
  body += card("queued, not yet sent", esc(live, "unsent"));
  body += card("running steps", esc(live, "running"));
  body += card("oldest queued step", html::duration(num(live, "oldest_queued_age_s")));
  body += "</div>";
  body += window_form("/queue", minutes);
  const double t1 = epoch_seconds(str(doc, "now"));
  const double t0 = t1 - minutes * 60.0;
  std::map<std::string, std::vector<const json*>> by_queue;
  for (const auto& s : doc["samples"]) by_queue[str(s, "queue")].push_back(&s);
  std::vector<svg::Series> ages;
  static constexpr std::array kColors = {"#4a7fd4", "#e08a1e", "#2e9a50", "#9b59b6", "#c33"};
  std::size_t color = 0;
  for (const auto& [name, samples] : by_queue) {
    svg::Series visible{"visible", "#4a7fd4", {}}, in_flight{"in flight", "#e08a1e", {}},
        delayed{"delayed", "#9b59b6", {}};
    svg::Series age{name, kColors[color++ % kColors.size()], {}};
    for (const auto* s : samples) {
      const double t = epoch_seconds(str(*s, "at"));
      visible.points.push_back({t, num(*s, "visible").value_or(0)});
      in_flight.points.push_back({t, num(*s, "in_flight").value_or(0)});
      delayed.points.push_back({t, num(*s, "delayed").value_or(0)});
      if (auto a = num(*s, "oldest_queued_age_s")) age.points.push_back({t, *a});
    }
    body += fmt::format("<h2>Queue {}: messages</h2>", html::escape(name));
    body += svg::line_chart({visible, in_flight, delayed}, t0, t1, "messages");
    ages.push_back(std::move(age));
  }
  if (by_queue.empty()) {
    body += "<h2>Messages</h2>" + svg::line_chart({}, t0, t1, "messages");
  }
  body += "<h2>Age of the oldest queued op</h2>" + svg::line_chart(ages, t0, t1, "seconds");
  body +=
      R"(<h2>Latest samples</h2><table id="samples"><thead><tr><th>at</th><th>queue</th>)"
      R"(<th class="num">visible</th><th class="num">in flight</th><th class="num">delayed</th>)"
      R"(<th class="num">oldest queued</th></tr></thead><tbody>)";
  const auto& samples = doc["samples"];
  const std::size_t first = samples.size() > 20 ? samples.size() - 20 : 0;
  for (std::size_t i = samples.size(); i-- > first;) {
    const auto& s = samples[i];
    body += "<tr>" + td(html::time(str(s, "at"))) + td(esc(s, "queue")) +
            td(esc(s, "visible"), "num") + td(esc(s, "in_flight"), "num") +
            td(esc(s, "delayed"), "num") +
            td(html::duration(num(s, "oldest_queued_age_s")), "num") + "</tr>\n";
  }
  if (samples.empty()) {
    body +=
        R"(<tr><td colspan="6" class="muted">no samples in this window (the scaler writes them while it runs)</td></tr>)";
  }
  body += "</tbody></table>";
  return {"Queue", "queue", std::move(body), kRefreshSeconds};
}

html::Page scaling(const json& doc) {
  const int minutes = doc["window_minutes"].get<int>();
  const double t1 = epoch_seconds(str(doc, "now"));
  const double t0 = t1 - minutes * 60.0;
  std::vector<svg::Mark> marks;
  std::vector<svg::Point> level;
  std::map<std::string, long> counts;
  for (const auto& e : doc["events"]) {
    const double t = epoch_seconds(str(e, "at"));
    const std::string kind = str(e, "kind");
    ++counts[kind];
    std::string label = fmt::format("{} {} {}", kind, str(e, "action"), str(e, "reason"));
    if (auto to = num(e, "to_count")) {
      label += fmt::format(" ({} → {:g})", str(e, "from_count"), *to);
      if (kind == "action") level.push_back({t, *to});
    }
    marks.push_back({t, kind, label});
  }
  std::string body = R"(<div class="cards">)";
  for (const auto* k : {"decision", "action", "fault", "error"})
    body += card(std::string(k) + "s", std::to_string(counts[k]));
  body += "</div>";
  body += window_form("/scaling", minutes);
  body += "<h2>Timeline</h2>" + svg::timeline(marks, level, t0, t1);
  body +=
      R"(<h2>Events</h2><table id="events"><thead><tr><th>at</th><th>kind</th><th>source</th>)"
      R"(<th>action</th><th class="num">from</th><th class="num">to</th><th>reason</th><th>details</th>)"
      R"(</tr></thead><tbody>)";
  const auto& events = doc["events"];
  for (std::size_t i = events.size(); i-- > 0;) {
    const auto& e = events[i];
    const std::string details =
        e["details"].is_object() && e["details"].empty() ? "" : e["details"].dump();
    body += "<tr>" + td(html::time(str(e, "at"))) + td(html::status(str(e, "kind"))) +
            td(esc(e, "source")) + td(esc(e, "action")) + td(esc(e, "from_count"), "num") +
            td(esc(e, "to_count"), "num") + td(esc(e, "reason")) +
            td(html::escape(details), "mono") + "</tr>\n";
  }
  if (events.empty())
    body += R"(<tr><td colspan="8" class="muted">no scaling events in this window</td></tr>)";
  body += "</tbody></table>";
  return {"Scaling", "scaling", std::move(body), kRefreshSeconds};
}

html::Page schedules(const json& doc) {
  std::string body =
      R"(<table id="schedules"><thead><tr><th>schedule</th><th>job</th><th>cron (UTC)</th>)"
      R"(<th>next tick</th><th>last tick</th><th>last run</th><th class="num">ticks</th>)"
      R"(</tr></thead><tbody>)";
  for (const auto& s : doc["schedules"]) {
    const std::string run_id = str(s, "last_run_id");
    std::string last_run = "-";
    if (!run_id.empty()) {
      last_run = html::link("/runs/" + percent_encode(run_id), run_id) + " " +
                 html::status(str(s, "last_run_status"));
    }
    body += "<tr>" + td(esc(s, "name"), "mono") + td(esc(s, "job")) + td(esc(s, "cron"), "mono") +
            td(html::time(str(s, "next_tick"))) + td(html::time(str(s, "last_tick"))) +
            td(last_run) + td(esc(s, "ticks"), "num") + "</tr>\n";
  }
  if (doc["schedules"].empty())
    body += R"(<tr><td colspan="7" class="muted">no schedules</td></tr>)";
  body += "</tbody></table>";
  return {"Schedules", "schedules", std::move(body), 30};
}

html::Page problem(const std::string& title, const std::string& message, int refresh_seconds) {
  std::string body =
      fmt::format(R"(<div class="problem" id="problem"><p>{}</p>{}</div>)", html::escape(message),
                  refresh_seconds > 0
                      ? fmt::format("<p>This page retries every {} seconds.</p>", refresh_seconds)
                      : std::string());
  html::Page page{title, "", std::move(body), 0};
  page.refresh_seconds = refresh_seconds;
  page.force_refresh = refresh_seconds > 0;
  return page;
}

}  // namespace opfleet::ui::pages
