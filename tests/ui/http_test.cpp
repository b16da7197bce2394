// Every page and API route over HTTP, against a database seeded by real runs
// (tests/ui/seeded_dashboard.h); escaping of values carrying markup; 400 for bad query
// parameters; 404s.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/ui/seeded_dashboard.h"
#include "ui/html.h"
#include "ui/query.h"

namespace opfleet::ui {
namespace {

using nlohmann::json;
using testing::SeededDashboard;

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class DashboardHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    aws::http_global_init();
    seeded = new SeededDashboard();
  }
  static void TearDownTestSuite() {
    delete seeded;
    seeded = nullptr;
  }

  static aws::HttpResponse page(const std::string& path, long want_status = 200) {
    auto r = seeded->get(path);
    EXPECT_EQ(r.status, want_status) << path << "\n" << r.body;
    return r;
  }
  static json api(const std::string& path, long want_status = 200) {
    auto r = seeded->get(path);
    EXPECT_EQ(r.status, want_status) << path << "\n" << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json") << path;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ": not JSON: " << r.body;
    return j;
  }

  static SeededDashboard* seeded;
};

SeededDashboard* DashboardHttp::seeded = nullptr;

TEST_F(DashboardHttp, RootRedirectsToRuns) {
  auto r = seeded->get("/");
  // libcurl does not follow redirects unless asked: the 302 itself is what we see.
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("location"), "/runs");
}

TEST_F(DashboardHttp, RunsPageListsTheRuns) {
  auto r = page("/runs");
  EXPECT_TRUE(has(r.header("content-type"), "text/html"));
  EXPECT_TRUE(has(r.header("content-security-policy"), "script-src 'self'"));
  for (const auto& id :
       {seeded->succeeded_run, seeded->failed_run, seeded->running_run, seeded->markup_run}) {
    EXPECT_TRUE(has(r.body, "/runs/" + id)) << id;
  }
  EXPECT_TRUE(has(r.body, R"(<table id="runs">)"));
  EXPECT_TRUE(has(r.body, "status-failed"));
  EXPECT_TRUE(has(r.body, "status-running"));
  EXPECT_TRUE(has(r.body, "<time datetime=\""));
  EXPECT_TRUE(has(r.body, R"(src="/static/app.js")"));
}

TEST_F(DashboardHttp, RunsFilterByJobStatusTagAndPage) {
  auto j = api("/api/runs?status=failed");
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["run_id"], seeded->failed_run);
  EXPECT_EQ(j["runs"][0]["job"], "ui_failing_job");
  EXPECT_EQ(j["counts"]["failed"], 1);
  EXPECT_EQ(j["counts"]["succeeded"], 2);

  j = api("/api/runs?job=mixed_job");
  ASSERT_EQ(j["total"], 1);
  EXPECT_EQ(j["runs"][0]["run_id"], seeded->succeeded_run);
  EXPECT_EQ(j["runs"][0]["steps_done"], j["runs"][0]["steps_total"]);

  j = api("/api/runs?tag=note%3D" + ui::percent_encode(testing::kMarkupTag));
  ASSERT_EQ(j["total"], 1);
  EXPECT_EQ(j["runs"][0]["run_id"], seeded->markup_run);

  j = api("/api/runs?limit=1&page=2");
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["pages"], 4);
  EXPECT_EQ(j["runs"].size(), 1u);
  j = api("/api/runs?limit=3&page=2");
  EXPECT_EQ(j["runs"].size(), 1u);
  j = api("/api/runs?job=no_such_job");
  EXPECT_EQ(j["total"], 0);
  EXPECT_TRUE(j["runs"].empty());

  auto p = page("/runs?status=failed&limit=1");
  EXPECT_TRUE(has(p.body, seeded->failed_run));
  EXPECT_FALSE(has(p.body, seeded->succeeded_run));
  p = page("/runs?limit=1");
  EXPECT_TRUE(has(p.body, "older »"));
  EXPECT_TRUE(has(p.body, R"(href="/runs?limit=1&amp;page=2")"));
}

TEST_F(DashboardHttp, RunPageShowsDagStepsAndAttempts) {
  auto r = page("/runs/" + seeded->succeeded_run);
  EXPECT_TRUE(has(r.body, R"(<svg id="dag")"));
  auto j = api("/api/runs/" + seeded->succeeded_run);
  ASSERT_EQ(j["steps"].size(), 3u);  // mixed_job: three ops
  for (const auto& s : j["steps"]) {
    const std::string key = s["step_key"];
    EXPECT_TRUE(has(r.body, R"(data-step=")" + key + R"(" data-status="succeeded")")) << key;
    EXPECT_EQ(j["levels"][key].get<int>() > 0, !s["depends_on"].empty()) << key;
  }
  ASSERT_FALSE(j["attempts"].empty());
  for (const auto& a : j["attempts"]) {
    EXPECT_EQ(a["outcome"], "succeeded");
    EXPECT_TRUE(has(r.body, html::escape(a["worker_id"].get<std::string>())));
    EXPECT_TRUE(has(r.body, ">" + std::to_string(a["pid"].get<int>()) + "<"));
    EXPECT_FALSE(a["host"].get<std::string>().empty());
  }
  EXPECT_TRUE(has(r.body, R"(<table id="steps">)"));
  EXPECT_TRUE(has(r.body, R"(<table id="attempts">)"));
}

TEST_F(DashboardHttp, FailedRunShowsItsErrors) {
  auto j = api("/api/runs/" + seeded->failed_run);
  EXPECT_EQ(j["status"], "failed");
  std::string boom_error;
  for (const auto& s : j["steps"]) {
    if (s["step_key"] == "boom") boom_error = s["error"];
  }
  ASSERT_FALSE(boom_error.empty());
  int failed_attempts = 0;
  for (const auto& a : j["attempts"]) failed_attempts += a["outcome"] == "failed";
  EXPECT_EQ(failed_attempts, 2);  // max_attempts of the job
  auto r = page("/runs/" + seeded->failed_run);
  EXPECT_TRUE(has(r.body, html::escape(boom_error)));
  EXPECT_TRUE(has(r.body, R"(data-step="boom" data-status="failed")"));
  EXPECT_TRUE(has(r.body, R"(data-step="after" data-status="skipped")"));
}

TEST_F(DashboardHttp, MarkupInValuesRendersAsText) {
  for (const auto& path : {std::string("/runs"), "/runs/" + seeded->markup_run}) {
    auto r = page(path);
    EXPECT_FALSE(has(r.body, testing::kMarkupTag)) << path;
    EXPECT_FALSE(has(r.body, "<img src=x")) << path;
    EXPECT_FALSE(has(r.body, "<script>")) << path;
    EXPECT_TRUE(has(r.body, "&lt;script&gt;alert(&quot;tag&quot;)&lt;/script&gt;")) << path;
    EXPECT_TRUE(has(r.body,
                    "&lt;img src=x onerror=&quot;alert(&#39;error&#39;)&quot;&gt; &amp; "
                    "more"))
        << path;
  }
  // The API carries the values as they are (JSON, not HTML).
  auto j = api("/api/runs/" + seeded->markup_run);
  EXPECT_EQ(j["tags"]["note"], testing::kMarkupTag);
  EXPECT_EQ(j["error"], testing::kMarkupError);
  // A query value echoed back into the filter form is escaped too.
  auto r = page("/runs?job=%3Cb%3Ebold%3C%2Fb%3E");
  EXPECT_FALSE(has(r.body, "<b>bold</b>"));
  EXPECT_TRUE(has(r.body, "&lt;b&gt;bold&lt;/b&gt;"));
}

TEST_F(DashboardHttp, FleetShowsSupervisorsWorkersAndInFlightOps) {
  auto j = api("/api/fleet");
  ASSERT_EQ(j["supervisors"].size(), 2u);
  EXPECT_EQ(j["supervisors"][0]["host"], "host-a");
  EXPECT_EQ(j["supervisors"][0]["stale"], false);
  EXPECT_EQ(j["supervisors"][0]["total_slots"], 8);
  EXPECT_EQ(j["supervisors"][1]["stale"], true);
  EXPECT_GE(j["supervisors"][1]["heartbeat_age_s"].get<double>(), 599.0);
  ASSERT_EQ(j["in_flight"].size(), 1u);
  const auto& op = j["in_flight"][0];
  EXPECT_EQ(op["run_id"], seeded->running_run);
  EXPECT_EQ(op["step_key"], "long_sleep");
  EXPECT_GT(op["pid"].get<int>(), 0);
  EXPECT_GE(op["age_s"].get<double>(), 0.0);
  auto r = page("/fleet");
  EXPECT_TRUE(has(r.body, R"(<table id="supervisors">)"));
  EXPECT_TRUE(has(r.body, "host-a"));
  EXPECT_TRUE(has(r.body, "pid=5001"));
  EXPECT_TRUE(has(r.body, "stale"));
  EXPECT_TRUE(has(r.body, "/runs/" + seeded->running_run));
  EXPECT_TRUE(has(r.body, ">" + std::to_string(op["pid"].get<int>()) + "<"));
}

TEST_F(DashboardHttp, QueueShowsLiveCountsAndHistory) {
  auto j = api("/api/queue?minutes=60");
  EXPECT_EQ(j["window_minutes"], 60);
  EXPECT_EQ(j["samples"].size(), 40u);  // 30 s apart, the oldest 20 minutes ago
  EXPECT_EQ(j["samples"][0]["queue"], "ui-test.fifo");
  EXPECT_TRUE(j["samples"][0]["oldest_queued_age_s"].is_number() ||
              j["samples"][0]["oldest_queued_age_s"].is_null());
  EXPECT_EQ(j["live"]["running"], 1);                            // the long run
  EXPECT_EQ(api("/api/queue?minutes=5")["samples"].size(), 9u);  // 30 s .. 270 s ago, < 5 min
  auto r = page("/queue");
  EXPECT_TRUE(has(r.body, R"(<svg class="chart")"));
  EXPECT_TRUE(has(r.body, "<path d=\"M"));
  EXPECT_TRUE(has(r.body, "ui-test.fifo"));
  EXPECT_TRUE(has(r.body, R"(<table id="samples">)"));
}

TEST_F(DashboardHttp, ScalingShowsTheTimeline) {
  auto j = api("/api/scaling");
  ASSERT_EQ(j["events"].size(), 5u);
  EXPECT_EQ(j["events"][0]["kind"], "decision");  // oldest first
  EXPECT_EQ(j["events"][2]["details"]["pid"], 5003);
  auto r = page("/scaling");
  EXPECT_TRUE(has(r.body, "timeline"));
  EXPECT_TRUE(has(r.body, R"(class="mark mark-fault")"));
  EXPECT_TRUE(has(r.body, R"(class="mark mark-error")"));
  EXPECT_TRUE(has(r.body, "UpdateService throttled"));
  EXPECT_EQ(api("/api/scaling?minutes=3")["events"].size(), 0u);
}

TEST_F(DashboardHttp, SchedulesShowNextAndLastTicks) {
  auto j = api("/api/schedules");
  json fast;
  for (const auto& s : j["schedules"]) {
    if (s["name"] == "fast_job") fast = s;
  }
  ASSERT_FALSE(fast.is_null()) << j.dump();
  EXPECT_EQ(fast["cron"], "*/10 * * * *");
  EXPECT_EQ(fast["ticks"], 2);
  EXPECT_EQ(fast["last_run_id"], seeded->succeeded_run);
  EXPECT_FALSE(fast["next_tick"].get<std::string>().empty());
  EXPECT_GT(fast["next_tick"].get<std::string>(), j["now"].get<std::string>());
  EXPECT_LT(fast["last_tick"].get<std::string>(), j["now"].get<std::string>());
  auto r = page("/schedules");
  EXPECT_TRUE(has(r.body, R"(<table id="schedules">)"));
  EXPECT_TRUE(has(r.body, "/runs/" + seeded->succeeded_run));
}

TEST_F(DashboardHttp, BadParametersGive400WithAMessage) {
  struct Case {
    std::string path;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"/runs?page=0", "page: '0' is not a whole number between 1 and 1000000"},
           {"/runs?limit=abc", "limit: 'abc' is not a whole number"},
           {"/runs?status=exploded", "status: 'exploded' is not one of"},
           {"/runs?tag=novalue", "tag: 'novalue' is not key=value"},
           {"/runs?colour=red", "unknown parameter 'colour'"},
           {"/runs?job=%zz", "bad percent-encoding"},
           {"/queue?minutes=-5", "minutes: '-5'"},
           {"/scaling?minutes=99999999", "minutes: '99999999'"},
           {"/fleet?x=1", "unknown parameter 'x'"},
       }) {
    auto r = page(c.path, 400);
    EXPECT_TRUE(has(r.body, html::escape(c.message))) << c.path << "\n" << r.body;
    auto j = api("/api" + c.path, 400);
    EXPECT_TRUE(has(j.value("error", ""), c.message)) << c.path << " " << j.dump();
    EXPECT_EQ(j["status"], 400);
  }
}

TEST_F(DashboardHttp, UnknownThingsGive404) {
  EXPECT_EQ(seeded->get("/runs/no-such-run").status, 404);
  EXPECT_EQ(api("/api/runs/no-such-run", 404)["status"], 404);
  EXPECT_EQ(seeded->get("/nowhere").status, 404);
  EXPECT_EQ(seeded->get("/api/nowhere").status, 404);
  EXPECT_EQ(seeded->get("/runs/a/b").status, 404);
}

TEST_F(DashboardHttp, StaticAssetsAndHealth) {
  auto css = seeded->get("/static/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_TRUE(has(css.header("content-type"), "text/css"));
  auto js = seeded->get("/static/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_TRUE(has(js.body, "toLocaleString"));
  EXPECT_EQ(seeded->get("/healthz").body, "ok\n");
}

}  // namespace
}  // namespace opfleet::ui
