// `opfleet loadsim` end to end, every scenario at a tiny scale: the real binary against a
// real supervisor and its workers on the stack's PostgreSQL and SQS emulator (a database
// and queues per test), worker kills through the supervisor's shared memory, partitions
// through real netfault proxies the workers reach both services by. Each test reads the
// JSON report the binary wrote and checks it against the plan and the database.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "loadsim/plan.h"
#include "loadsim/probe.h"
#include "netfault/control.h"
#include "netfault/tcp_proxy.h"
#include "tests/supervisor/supervisor_process.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

struct LoadsimRun {
  int exit_code = -1;
  std::string output;
  nlohmann::json report;
};

class LoadsimTest : public ::testing::Test {
 protected:
  std::vector<std::string> args(const std::string& name, std::vector<std::string> extra) {
    const std::string config = fleet_.dir() + "/empty.conf";
    std::ofstream(config) << "# everything from flags\n";
    std::vector<std::string> argv = {opfleet_binary(),    "loadsim",
                                     "--config",          config,
                                     "--log-format",      "json",
                                     "--database-url",    fleet_.database_url(),
                                     "--sqs-endpoint",    fleet_.sqs_endpoint(),
                                     "--region",          "us-east-1",
                                     "--queue-name",      fleet_.queue_name(),
                                     "--sample-interval", "200ms",
                                     "--settle-timeout",  "60s",
                                     "--report",          report_path(name)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::string report_path(const std::string& name) { return fleet_.dir() + "/" + name + ".json"; }

  // Runs `opfleet loadsim` to its end; `during` runs while it does (a signal, say).
  LoadsimRun run(const std::string& name, std::vector<std::string> extra,
                 const std::function<void(ChildProcess&)>& during = {}) {
    ChildProcess p(args(name, std::move(extra)), cli_environment(),
                   fleet_.dir() + "/" + name + ".log");
    if (during) during(p);
    LoadsimRun r;
    auto status = p.wait(120s);
    if (!status) {
      ADD_FAILURE() << "loadsim did not end; its output:\n" << p.output();
      p.kill_now();
      return r;
    }
    r.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    r.output = p.output();
    std::ifstream in(report_path(name));
    if (in) r.report = nlohmann::json::parse(in, nullptr, false);
    return r;
  }

  void start_supervisor(SupervisorSpec spec = {}) {
    sup_ = std::make_unique<SupervisorProcess>(fleet_, spec);
  }

  // Every run submitted and succeeded (or, with `may_fail`, failed only because an op was
  // cut short on every one of its attempts), the report's counts agree with the database,
  // the audit is clean.
  void expect_clean(const LoadsimRun& r, std::int64_t planned, bool may_fail = false) {
    ASSERT_TRUE(r.report.is_object()) << r.output;
    const auto& j = r.report;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(j["verdict"]["ok"], true) << j["verdict"].dump();
    EXPECT_EQ(j["runs"]["planned"], planned);
    EXPECT_EQ(j["runs"]["submitted"], planned);
    const auto failed = j["runs"]["failed"].get<std::int64_t>();
    EXPECT_EQ(j["runs"]["succeeded"].get<std::int64_t>() + failed, planned);
    if (!may_fail) {
      EXPECT_EQ(failed, 0);
    }
    EXPECT_EQ(j["audit"]["ok"], true) << j["audit"].dump();
    EXPECT_EQ(j["audit"]["runs"], planned);
    const auto ops = j["ops"]["total"].get<std::int64_t>();
    const auto succeeded_ops = j["ops"]["succeeded"].get<std::int64_t>();
    EXPECT_EQ(succeeded_ops + j["ops"]["failed"].get<std::int64_t>() +
                  j["ops"]["skipped"].get<std::int64_t>(),
              ops);
    EXPECT_EQ(j["latency"]["execution"]["count"], succeeded_ops);
    EXPECT_EQ(j["latency"]["run_end_to_end"]["count"], planned);
    EXPECT_GT(j["latency"]["run_end_to_end"]["p50_ms"].get<double>(), 0);
    EXPECT_GE(j["latency"]["run_end_to_end"]["p99_ms"].get<double>(),
              j["latency"]["run_end_to_end"]["p50_ms"].get<double>());
    EXPECT_GT(j["throughput"]["ops_per_s"].get<double>(), 0);
    ASSERT_GE(j["series"].size(), 3u);
    EXPECT_EQ(j["series"].back()["runs_finished"], planned);
    EXPECT_EQ(j["series"].back()["ops_done"], ops);
    // The database agrees: one succeeded execution per succeeded step of the simulation's
    // runs, and a step failed only after its last attempt was cut short.
    const auto tag = j["tag"].get<std::string>().substr(8);
    auto rows = fleet_.db().exec(
        fmt::format("SELECT count(*) FROM attempts a JOIN runs r USING (run_id) "
                    "WHERE r.tags @> '{{\"loadsim\":\"{}\"}}' AND a.outcome = 'succeeded'",
                    tag));
    ASSERT_TRUE(rows) << rows.error().describe();
    EXPECT_EQ(rows->front().get<std::int64_t>(0).value(), succeeded_ops);
    auto early = fleet_.db().exec(
        fmt::format("SELECT count(*) FROM steps s JOIN runs r USING (run_id) "
                    "WHERE r.tags @> '{{\"loadsim\":\"{}\"}}' AND s.status = 'failed' "
                    "AND s.attempt < s.max_attempts",
                    tag));
    ASSERT_TRUE(early) << early.error().describe();
    EXPECT_EQ(early->front().get<std::int64_t>(0).value(), 0) << "a step failed with attempts left";
  }

  void expect_files(const std::string& name) {
    for (const char* ext : {".json", ".csv", ".svg"}) {
      auto p = std::filesystem::path(report_path(name)).replace_extension(ext);
      EXPECT_TRUE(std::filesystem::exists(p)) << p;
      EXPECT_GT(std::filesystem::file_size(p), 100u) << p;
    }
  }

  static std::int64_t planned(const std::string& scenario, loadsim::Overrides o) {
    return static_cast<std::int64_t>(
        loadsim::plan_arrivals(loadsim::make_scenario(scenario, o).value()).size());
  }

  Fleet fleet_;
  std::unique_ptr<SupervisorProcess> sup_;
};

TEST_F(LoadsimTest, SteadySubmitsAtTheRateAndEveryRunCompletesOnce) {
  start_supervisor({.workers = 2, .slots = 4});
  auto r = run("steady", {"--scenario", "steady", "--duration", "3s", "--rate", "4", "--time-scale",
                          "0.003", "--instances", sup_->instance()});
  expect_clean(r, 12);
  expect_files("steady");
  EXPECT_EQ(r.report["faults"].size(), 0u);
  EXPECT_EQ(r.report["workers"]["max"], 2);
  EXPECT_EQ(r.report["runs"]["by_job"]["fast_job"]["runs"], 12);
  // Submissions kept to the plan: none started more than a second late.
  EXPECT_LT(r.report["latency"]["submit_lag"]["max_ms"].get<double>(), 1000);
  EXPECT_NE(r.output.find("verdict   PASS"), std::string::npos) << r.output;
}

TEST_F(LoadsimTest, BurstSubmitsFiveTimesTheRateInsideItsWindows) {
  start_supervisor({.workers = 2, .slots = 4});
  loadsim::Overrides o;
  o.duration = 3s;
  o.rate = 4;
  auto r = run("burst",
               {"--scenario", "burst", "--duration", "3s", "--rate", "4", "--time-scale", "0.003"});
  expect_clean(r, planned("burst", o));
  // Bursts every 1 s from 0.5 s, 200 ms long at 20 runs/s: 12 of the runs, by the
  // database's submission times.
  auto rows =
      fleet_.db().exec(fmt::format("SELECT extract(epoch FROM submitted_at)::float8 FROM runs "
                                   "WHERE tags @> '{{\"loadsim\":\"{}\"}}'",
                                   r.report["tag"].get<std::string>().substr(8)));
  ASSERT_TRUE(rows);
  auto start = fleet_.db().exec(fmt::format("SELECT extract(epoch FROM '{}'::timestamptz)::float8",
                                            r.report["started_at"].get<std::string>()));
  ASSERT_TRUE(start);
  const double t0 = start->front().get<double>(0).value();
  int in_bursts = 0;
  for (const auto& row : *rows) {
    const double t = std::fmod(row.get<double>(0).value() - t0 - 0.5 + 10, 1.0);
    if (t < 0.25) ++in_bursts;  // the 200 ms window, plus a little scheduling slack
  }
  EXPECT_GE(in_bursts, 11) << "runs inside the burst windows";
  EXPECT_EQ(r.report["scenario"]["burst"]["factor"], 5);
}

TEST_F(LoadsimTest, MixedSubmitsTheJobsInTheirShares) {
  start_supervisor({.workers = 2, .slots = 4});
  auto r = run("mixed", {"--scenario", "mixed", "--duration", "2s", "--rate", "10", "--time-scale",
                         "0.002"});
  expect_clean(r, 20);
  const auto& by_job = r.report["runs"]["by_job"];
  EXPECT_EQ(by_job["fast_job"]["runs"], 14);
  EXPECT_EQ(by_job["slow_job"]["runs"], 4);
  EXPECT_EQ(by_job["mixed_job"]["runs"], 2);
  // Slow ops (5 min x 0.002 = 0.6 s) take longer than fast ones (20 s x 0.002).
  EXPECT_GT(by_job["slow_job"]["run_end_to_end"]["p50_ms"].get<double>(),
            by_job["fast_job"]["run_end_to_end"]["p50_ms"].get<double>());
}

TEST_F(LoadsimTest, WorkerFailureKillsBusyWorkersAndNothingRunsTwiceOrIsLost) {
  start_supervisor({.workers = 2, .slots = 4, .lease_ms = 6000});
  // Slow jobs keep the workers busy, so each kill cuts ops short.
  auto r = run("worker-failure",
               {"--scenario", "worker-failure", "--duration", "4s", "--rate", "3", "--mix",
                "slow_job=1", "--time-scale", "0.004", "--instances", sup_->instance()});
  // A run may fail: an op cut short by three kills has used its three attempts (the
  // poison-op guard). Exactly once still holds, and nothing is lost.
  expect_clean(r, 12, /*may_fail=*/true);
  const auto& faults = r.report["faults"];
  ASSERT_EQ(faults.size(), 3u) << faults.dump();
  for (std::size_t i = 0; i < faults.size(); ++i) {
    EXPECT_EQ(faults[i]["kind"], "kill_worker");
    EXPECT_EQ(faults[i]["source"], "loadsim");
    EXPECT_EQ(faults[i]["ok"], true) << faults[i].dump();
    EXPECT_EQ(faults[i]["detail"].get<std::string>().rfind("SIGKILL " + sup_->instance() + "/", 0),
              0u);
    EXPECT_NEAR(faults[i]["at_s"].get<double>(), 1.0 * static_cast<double>(i + 1), 0.5);
  }
  // Ops were cut short and ran again; each still completed exactly once (audit above).
  EXPECT_GE(r.report["ops"]["reexecuted"].get<int>(), 1);
  EXPECT_GT(r.report["ops"]["executions"].get<int>(), r.report["ops"]["total"].get<int>());
  EXPECT_FALSE(sup_->events("claims_recovered").empty());
  EXPECT_GE(sup_->events("worker_crashed").size(), 3u);
}

struct Proxies {
  std::unique_ptr<netfault::TcpProxy> pg;
  std::unique_ptr<netfault::TcpProxy> sqs;
  std::unique_ptr<netfault::ControlServer> pg_ctl;
  std::unique_ptr<netfault::ControlServer> sqs_ctl;
};

Proxies proxies(Fleet& fleet) {
  Proxies p;
  const auto& endpoint = fleet.sqs_endpoint();
  const int sqs_port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  p.pg = std::move(
      netfault::TcpProxy::start({.upstream = {fleet.database_host(), fleet.database_port()}})
          .value());
  p.sqs = std::move(netfault::TcpProxy::start({.upstream = {"127.0.0.1", sqs_port}}).value());
  p.pg_ctl = std::move(netfault::ControlServer::start(fleet.dir() + "/pg.sock", *p.pg).value());
  p.sqs_ctl = std::move(netfault::ControlServer::start(fleet.dir() + "/sqs.sock", *p.sqs).value());
  return p;
}

std::string mode(const std::string& socket) {
  auto status = netfault::send_command(socket, "status");
  if (!status) return "unreachable";
  return nlohmann::json::parse(*status, nullptr, false).value("mode", "?");
}

TEST_F(LoadsimTest, NetworkPartitionCutsTheWorkersOffBothServicesThenHeals) {
  auto p = proxies(fleet_);
  start_supervisor({.workers = 2,
                    .slots = 4,
                    .lease_ms = 6000,
                    .database_url = fleet_.database_url_via("127.0.0.1", p.pg->port()),
                    .sqs_endpoint = fmt::format("http://127.0.0.1:{}", p.sqs->port())});
  const std::string pg_sock = fleet_.dir() + "/pg.sock";
  const std::string sqs_sock = fleet_.dir() + "/sqs.sock";
  auto r = run("network-partition",
               {"--scenario", "network-partition", "--duration", "4s", "--rate", "4",
                "--time-scale", "0.003", "--sqs-control", sqs_sock, "--pg-control", pg_sock});
  expect_clean(r, 16);
  const auto& faults = r.report["faults"];
  ASSERT_EQ(faults.size(), 1u) << faults.dump();
  EXPECT_EQ(faults[0]["kind"], "partition");
  EXPECT_EQ(faults[0]["ok"], true) << faults[0].dump();
  EXPECT_NEAR(faults[0]["at_s"].get<double>(), 1.2, 0.3);
  EXPECT_NEAR(faults[0]["end_s"].get<double>() - faults[0]["at_s"].get<double>(), 1.0, 0.3);
  // Healed: both proxies pass traffic again.
  EXPECT_EQ(mode(pg_sock), "pass");
  EXPECT_EQ(mode(sqs_sock), "pass");
  // While cut off, nothing completed: no op ended inside the window.
  auto rows = fleet_.db().exec(
      fmt::format("SELECT count(*) FROM steps s JOIN runs r USING (run_id) "
                  "WHERE r.tags @> '{{\"loadsim\":\"{}\"}}' AND s.finished_at > "
                  "'{}'::timestamptz + make_interval(secs => {}) AND s.finished_at < "
                  "'{}'::timestamptz + make_interval(secs => {})",
                  r.report["tag"].get<std::string>().substr(8),
                  r.report["started_at"].get<std::string>(), faults[0]["at_s"].get<double>() + 0.2,
                  r.report["started_at"].get<std::string>(), faults[0]["end_s"].get<double>()));
  ASSERT_TRUE(rows) << rows.error().describe();
  EXPECT_EQ(rows->front().get<std::int64_t>(0).value(), 0);
  // The CSV marks the samples inside the window.
  std::ifstream csv(fleet_.dir() + "/network-partition.csv");
  std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(",partition\n"), std::string::npos) << text;
}

TEST_F(LoadsimTest, AScenarioFileAndItsErrors) {
  start_supervisor({.workers = 1, .slots = 4});
  const std::string file = fleet_.dir() + "/scenario.json";
  std::ofstream(file) << R"({"name": "file-steady", "duration": "1500ms", "rate": 4,
                            "mix": {"fast_job": 1, "parallel_fast_job": 1},
                            "time_scale": 0.002})";
  auto r = run("file", {"--scenario-file", file});
  expect_clean(r, 6);
  EXPECT_EQ(r.report["scenario"]["name"], "file-steady");
  EXPECT_EQ(r.report["runs"]["by_job"]["parallel_fast_job"]["runs"], 3);

  std::ofstream(file) << R"({"duration": "2s", "mix": {"fast_job": 1}, "rat": 3})";
  auto bad = run("bad-file", {"--scenario-file", file});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("unknown key \"rat\""), std::string::npos) << bad.output;

  auto no_instances = run("no-instances", {"--scenario", "worker-failure", "--duration", "2s"});
  EXPECT_EQ(no_instances.exit_code, 2);
  EXPECT_NE(no_instances.output.find("instances"), std::string::npos) << no_instances.output;

  auto no_socket = run("no-socket", {"--scenario", "network-partition", "--duration", "2s"});
  EXPECT_EQ(no_socket.exit_code, 2);
  EXPECT_NE(no_socket.output.find("sqs-control"), std::string::npos) << no_socket.output;

  auto unknown_job = run("unknown-job", {"--mix", "fast_job=1,nope=1", "--duration", "2s"});
  EXPECT_EQ(unknown_job.exit_code, 2);
  EXPECT_NE(unknown_job.output.find("unknown job 'nope'"), std::string::npos) << unknown_job.output;
}

TEST_F(LoadsimTest, AStopHealsThePartitionAndStillReports) {
  auto p = proxies(fleet_);
  start_supervisor({.workers = 1,
                    .slots = 2,
                    .lease_ms = 6000,
                    .sqs_endpoint = fmt::format("http://127.0.0.1:{}", p.sqs->port())});
  const std::string sqs_sock = fleet_.dir() + "/sqs.sock";
  auto r = run("stopped",
               {"--duration", "30s", "--rate", "2", "--time-scale", "0.002", "--partition",
                "500ms+60s:sqs", "--sqs-control", sqs_sock},
               [&](ChildProcess& c) {
                 ASSERT_TRUE(c.wait_for_output("\"fault\":\"partition\"", 20s)) << c.output();
                 EXPECT_EQ(mode(sqs_sock), "blackhole");
                 c.signal(SIGINT);
               });
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report["interrupted"], true);
  EXPECT_EQ(mode(sqs_sock), "pass");
  ASSERT_EQ(r.report["faults"].size(), 1u);
  EXPECT_LT(r.report["faults"][0]["end_s"].get<double>(), 20);
  EXPECT_NE(r.output.find("interrupted"), std::string::npos) << r.output;
}

// The scaler's failure simulation records its faults in scaling_events; the report takes
// those of its time span, pairs each window's start and end per source, and keeps the
// failed ones as failed.
TEST_F(LoadsimTest, FaultsTheScalerRecordedAreReadBackAsWindowsAndMarks) {
  auto& db = fleet_.db();
  auto now = db.exec("SELECT extract(epoch FROM now())::float8");
  ASSERT_TRUE(now);
  const double t0 = now->front().get<double>(0).value();
  const auto insert = [&](double at, const char* source, const char* kind, const char* action,
                          const char* fault, const char* reason) {
    auto r = db.exec(
        fmt::format("INSERT INTO scaling_events (at, source, kind, action, reason, details) VALUES "
                    "(to_timestamp({}), '{}', '{}', '{}', '{}', '{{\"fault\":\"{}\"}}'::jsonb)",
                    t0 + at, source, kind, action, reason, fault));
    ASSERT_TRUE(r) << r.error().describe();
  };
  insert(-5, "scaler", "fault", "kill_worker", "kill_worker", "before the simulation");
  insert(1, "scaler", "fault", "kill_worker", "kill_worker", "killed worker demo/1 (local)");
  insert(2, "scaler", "fault", "partition", "partition", "cut both");
  insert(3, "scaler-b", "error", "kill_worker", "kill_worker", "no worker running");
  insert(4.5, "scaler", "fault", "heal", "partition", "healed");
  insert(5, "scaler", "fault", "drain", "drain", "drained the fleet");
  insert(6, "scaler", "error", "restore", "drain", "SIGUSR2 failed");
  auto decision = db.exec(
      fmt::format("INSERT INTO scaling_events (at, source, kind, action) VALUES (to_timestamp({}), "
                  "'scaler', 'decision', 'scale_out')",
                  t0 + 1.5));
  ASSERT_TRUE(decision);

  auto faults = loadsim::load_scaler_faults(db, t0).value();
  ASSERT_EQ(faults.size(), 4u);
  EXPECT_EQ(faults[0].kind, "kill_worker");
  EXPECT_NEAR(faults[0].at_s, 1, 0.01);
  EXPECT_FALSE(faults[0].end_s);
  EXPECT_EQ(faults[0].detail, "killed worker demo/1 (local)");
  EXPECT_EQ(faults[1].kind, "partition");
  ASSERT_TRUE(faults[1].end_s);
  EXPECT_NEAR(*faults[1].end_s, 4.5, 0.01);
  EXPECT_TRUE(faults[1].ok);
  EXPECT_EQ(faults[2].source, "scaler-b");
  EXPECT_FALSE(faults[2].ok);
  EXPECT_EQ(faults[3].kind, "drain");
  ASSERT_TRUE(faults[3].end_s);
  EXPECT_FALSE(faults[3].ok);
  EXPECT_NE(faults[3].detail.find("SIGUSR2 failed"), std::string::npos);
}

}  // namespace
}  // namespace opfleet::testing
