#include "ui/dashboard.h"

#include <expected>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "common/log.h"
#include "ui/html.h"
#include "ui/pages.h"
#include "ui/query.h"
#include "ui/reads.h"

namespace opfleet::ui {

using nlohmann::json;

namespace {

constexpr int kRetrySeconds = 5;

// A failure that ends the request with `status` and `message` (shown to the user).
struct Failure {
  int status;
  std::string message;
};

HttpResponse json_response(int status, const json& doc) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  // error_handler::replace: text columns are UTF-8 in PostgreSQL, but a lone bad byte
  // must not turn a page into an exception.
  r.body = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse html_response(int status, const html::Page& page) {
  HttpResponse r;
  r.status = status;
  r.body = html::layout(page);
  // Scripts and styles only from /static/ (no inline script can run, whatever a value
  // contains); SVG charts are inline markup, not images.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; "
                         "img-src 'self'; connect-src 'self'; form-action 'self'; "
                         "frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

HttpResponse failure_response(const Failure& f, bool api) {
  HttpResponse r;
  if (api) {
    r = json_response(f.status, json{{"error", f.message}, {"status", f.status}});
  } else {
    static const std::map<int, std::string> kTitles = {{400, "Bad request"},
                                                       {404, "Not found"},
                                                       {500, "Internal error"},
                                                       {503, "Database unavailable"}};
    auto title = kTitles.find(f.status);
    r = html_response(f.status, pages::problem(title == kTitles.end() ? "Error" : title->second,
                                               f.message, f.status == 503 ? kRetrySeconds : 0));
  }
  if (f.status == 503) r.headers.emplace_back("Retry-After", std::to_string(kRetrySeconds));
  return r;
}

bool is_outage(const Error& e) {
  return e.retryable || e.kind == ErrorKind::kNetwork || e.kind == ErrorKind::kTimeout ||
         e.kind == ErrorKind::kUnavailable || e.kind == ErrorKind::kThrottled;
}

Result<RunsFilter> runs_filter(const Query& q) {
  OPFLEET_TRY_STATUS(q.only({"job", "status", "tag", "page", "limit"}));
  RunsFilter f;
  f.job = q.text("job");
  OPFLEET_TRY(f.status,
              q.one_of("status", {"queued", "running", "succeeded", "failed", "cancelled"}));
  for (const auto& tag : q.all("tag")) {
    const auto eq = tag.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(Error::invalid(fmt::format("tag: '{}' is not key=value", tag)));
    }
    f.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
  }
  OPFLEET_TRY(f.page, q.integer("page", 1, 1, 1000000));
  OPFLEET_TRY(f.limit, q.integer("limit", 50, 1, 500));
  return f;
}

Result<int> window_minutes(const Query& q, int fallback) {
  OPFLEET_TRY_STATUS(q.only({"minutes"}));
  return q.integer("minutes", fallback, 1, 60 * 24 * 30);
}

}  // namespace

Dashboard::Dashboard(DashboardOptions options) : options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    sessions_.push_back(std::make_unique<store::Connection>(options_.db));
  }
}

Dashboard::~Dashboard() = default;

store::Connection& Dashboard::db(int thread_index) {
  return *sessions_.at(static_cast<std::size_t>(thread_index) % sessions_.size());
}

HttpResponse Dashboard::handle(const HttpRequest& req, int thread_index) {
  const std::string& path = req.path;
  if (path == "/") {
    HttpResponse r;
    r.status = 302;
    r.headers.emplace_back("Location", "/runs");
    return r;
  }
  if (path == "/static/style.css" || path == "/static/app.js") {
    HttpResponse r;
    const bool css = path.ends_with(".css");
    r.content_type = css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    r.body = std::string(css ? html::stylesheet() : html::script());
    return r;
  }
  if (path == "/healthz") {
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "ok\n";
    return r;
  }

  const bool api = path.starts_with("/api/");
  const std::string route = api ? path.substr(4) : path;
  auto query = Query::parse(req.query);
  if (!query) return failure_response({400, query.error().message}, api);

  // Each route: validate the query (400), read (503/500/404), render.
  auto outcome = [&]() -> std::expected<std::pair<json, html::Page>, Failure> {
    auto bad = [](const Error& e) { return std::unexpected(Failure{400, e.message}); };
    store::Connection& conn = db(thread_index);
    Result<json> doc = fail(Error::not_found(fmt::format("no page '{}'", path)));
    std::function<html::Page(const json&)> render;
    if (route == "/runs") {
      auto f = runs_filter(*query);
      if (!f) return bad(f.error());
      doc = read_runs(conn, *f);
      render = [f = *f](const json& d) { return pages::runs(d, f); };
    } else if (route.starts_with("/runs/") && route.size() > 6 &&
               route.find('/', 6) == std::string::npos) {
      if (auto s = query->only({}); !s) return bad(s.error());
      doc = read_run(conn, route.substr(6));
      render = [](const json& d) { return pages::run(d); };
    } else if (route == "/fleet") {
      if (auto s = query->only({}); !s) return bad(s.error());
      doc = read_fleet(conn, options_.stale_after_s);
      render = [](const json& d) { return pages::fleet(d); };
    } else if (route == "/queue") {
      auto m = window_minutes(*query, 60);
      if (!m) return bad(m.error());
      doc = read_queue(conn, *m);
      render = [](const json& d) { return pages::queue(d); };
    } else if (route == "/scaling") {
      auto m = window_minutes(*query, 360);
      if (!m) return bad(m.error());
      doc = read_scaling(conn, *m);
      render = [](const json& d) { return pages::scaling(d); };
    } else if (route == "/schedules") {
      if (auto s = query->only({}); !s) return bad(s.error());
      doc = read_schedules(conn, options_.registry);
      render = [](const json& d) { return pages::schedules(d); };
    }
    if (!doc) {
      const Error& e = doc.error();
      if (e.kind == ErrorKind::kNotFound) return std::unexpected(Failure{404, e.message});
      if (is_outage(e)) {
        if (!db_down_.exchange(true)) {
          log::warn("ui_database_unavailable", {{"error", e.describe()}});
        }
        return std::unexpected(Failure{
            503, "The database cannot be reached (" + e.message +
                     "). The dashboard keeps trying and recovers by itself when it is back."});
      }
      if (e.code == "42P01" || e.code == "42703") {  // undefined table / column
        return std::unexpected(
            Failure{500,
                    "The database schema is missing or older than this dashboard: run `opfleet "
                    "migrate`. (" +
                        e.message + ")"});
      }
      log::error("ui_read_failed", {{"path", path}, {"error", e.describe()}});
      return std::unexpected(Failure{500, e.message});
    }
    if (db_down_.exchange(false)) log::info("ui_database_recovered", {});
    html::Page page = api ? html::Page{} : render(*doc);
    return std::make_pair(std::move(*doc), std::move(page));
  }();
  if (!outcome) return failure_response(outcome.error(), api);
  if (api) return json_response(200, outcome->first);
  return html_response(200, outcome->second);
}

}  // namespace opfleet::ui
