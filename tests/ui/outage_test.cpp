// A database outage gives a clear 503 (page and API) and the dashboard recovers by itself
// once the database is back, on a private PostgreSQL (the shared stack server must never
// be stopped). And `opfleet ui` as a process: prints its URL, serves, stops on SIGTERM.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "aws/http.h"
#include "store/migrations.h"
#include "tests/store/scratch_database.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/postgres_process.h"
#include "tests/support/stack_env.h"
#include "ui/dashboard.h"

namespace opfleet::ui {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

aws::HttpResponse get(aws::HttpClient& http, int port, const std::string& path) {
  auto r = http.send({"GET", fmt::format("http://127.0.0.1:{}{}", port, path), {}, {}});
  if (!r) throw std::runtime_error(path + ": " + r.error().describe());
  return std::move(*r);
}

TEST(DashboardOutage, DatabaseDownGives503AndRecovers) {
  aws::http_global_init();
  testing::PostgresProcess pg;
  DashboardOptions options;
  options.db.url = pg.url();
  options.db.connect_timeout = std::chrono::seconds(2);
  options.db.statement_timeout = Millis(5000);
  options.db.reconnect = BackoffPolicy{Millis(5), Millis(20), 2};
  options.db.breaker = BreakerPolicy{2, Millis(500)};
  options.threads = 1;  // one session: the same one sees the outage and the recovery
  {
    auto conn = store::connect(options.db);
    ASSERT_TRUE(conn) << conn.error().describe();
    auto m = store::migrate(**conn);
    ASSERT_TRUE(m) << m.error().describe();
  }
  Dashboard dashboard(options);
  ServerOptions server_options;
  server_options.port = 0;
  server_options.threads = 1;
  auto server = HttpServer::start(
      server_options, [&](const HttpRequest& r, int t) { return dashboard.handle(r, t); });
  ASSERT_TRUE(server) << server.error().describe();
  const int port = (*server)->port();
  aws::HttpClient http;
  ASSERT_EQ(get(http, port, "/runs").status, 200);

  pg.stop();
  const auto started = std::chrono::steady_clock::now();
  auto page = get(http, port, "/runs");
  EXPECT_EQ(page.status, 503) << page.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5)) << "an outage must fail fast";
  EXPECT_TRUE(has(page.body, "Database unavailable")) << page.body;
  EXPECT_TRUE(has(page.body, "recovers by itself")) << page.body;
  EXPECT_TRUE(has(page.body, R"(<meta http-equiv="refresh")")) << page.body;
  EXPECT_EQ(page.header("retry-after"), "5");
  auto api = get(http, port, "/api/fleet");
  EXPECT_EQ(api.status, 503);
  EXPECT_EQ(nlohmann::json::parse(api.body)["status"], 503);
  for (const auto* path : {"/runs/x", "/fleet", "/queue", "/scaling", "/schedules"}) {
    EXPECT_EQ(get(http, port, path).status, 503) << path;
  }
  // What needs no database still works.
  EXPECT_EQ(get(http, port, "/healthz").status, 200);
  EXPECT_EQ(get(http, port, "/static/app.js").status, 200);

  pg.start();
  // The breaker lets a request through again within its open period (0.5 s here); poll
  // until it does — there is no event to wait on from outside.
  EXPECT_TRUE(testing::Fleet::wait_until([&] { return get(http, port, "/runs").status == 200; },
                                         seconds(20)));
  EXPECT_EQ(get(http, port, "/api/queue").status, 200);
}

TEST(DashboardOutage, UnmigratedDatabaseSaysToMigrate) {
  aws::http_global_init();
  testing::ScratchDatabase empty("opfleet_ui_empty");
  DashboardOptions options;
  options.db = empty.options();
  options.threads = 1;
  Dashboard dashboard(options);
  HttpRequest req;
  req.method = "GET";
  req.path = "/runs";
  auto r = dashboard.handle(req, 0);
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(has(r.body, "opfleet migrate")) << r.body;
}

TEST(UiCommand, PrintsItsUrlServesAndStopsOnSigterm) {
  aws::http_global_init();
  testing::ScratchDatabase scratch("opfleet_ui_cli");
  {
    auto conn = store::connect(scratch.options());
    ASSERT_TRUE(conn);
    ASSERT_TRUE(store::migrate(**conn));
  }
  const std::string dir = ::testing::TempDir();
  testing::ChildProcess ui({testing::opfleet_binary(), "ui", "--listen", "127.0.0.1:0",
                            "--database-url", scratch.url(), "--config", "/dev/null"},
                           {"PATH=/usr/bin:/bin"}, dir + "/" + testing::unique_name("ui") + ".log");
  ASSERT_TRUE(ui.wait_for_output("dashboard at http://127.0.0.1:", seconds(20))) << ui.output();
  const std::string out = ui.output();
  const auto at = out.find("http://127.0.0.1:") + std::string("http://127.0.0.1:").size();
  const int port = std::stoi(out.substr(at));
  aws::HttpClient http;
  EXPECT_EQ(get(http, port, "/runs").status, 200);
  EXPECT_EQ(get(http, port, "/api/runs").status, 200);
  ui.signal(SIGTERM);
  auto status = ui.wait(seconds(10));
  ASSERT_TRUE(status) << ui.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << ui.output();

  testing::ChildProcess bad({testing::opfleet_binary(), "ui", "--listen", "nowhere",
                             "--database-url", scratch.url(), "--config", "/dev/null"},
                            {"PATH=/usr/bin:/bin"},
                            dir + "/" + testing::unique_name("ui-bad") + ".log");
  auto bad_status = bad.wait(seconds(10));
  ASSERT_TRUE(bad_status);
  EXPECT_EQ(WEXITSTATUS(*bad_status), 2) << bad.output();
  EXPECT_TRUE(has(bad.output(), "--listen")) << bad.output();
}

}  // namespace
}  // namespace opfleet::ui
