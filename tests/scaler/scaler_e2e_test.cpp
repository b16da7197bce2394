// The scaler against real processes: `opfleet supervise` and its workers on the stack's
// PostgreSQL and SQS emulator (a database and queues per test), the `opfleet scale`
// binary for the control loop and --dry-run, and the failure simulation driven in
// process against the real fleet (local actuator, real netfault proxies). Every test
// that runs ops ends with the exactly-once audit: one completion per key, no overlapping
// attempts, nothing lost.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "netfault/control.h"
#include "netfault/tcp_proxy.h"
#include "scaler/fault_injector.h"
#include "scaler/local_actuator.h"
#include "scaler/metrics_source.h"
#include "store/params.h"
#include "tests/supervisor/supervisor_process.h"

namespace opfleet::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> scaler_args(Fleet& fleet, const std::string& instance,
                                     std::vector<std::string> extra) {
  const std::string config = fleet.dir() + "/scale-empty.conf";
  std::ofstream(config) << "# everything from flags\n";
  std::vector<std::string> argv = {opfleet_binary(),    "scale",
                                   "--config",          config,
                                   "--log-format",      "json",
                                   "--local-instances", instance,
                                   "--database-url",    fleet.database_url(),
                                   "--sqs-endpoint",    fleet.sqs_endpoint(),
                                   "--region",          "us-east-1",
                                   "--queue-name",      fleet.queue_name()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::int64_t count_rows(Fleet& fleet, const std::string& sql) {
  auto rows = fleet.db().exec(sql);
  if (!rows) throw std::runtime_error(rows.error().describe());
  return rows->front().get<std::int64_t>(0).value();
}

std::vector<std::string> submit_many(Fleet& fleet, int n, double op_s) {
  std::vector<std::string> runs;
  for (int i = 0; i < n; ++i) runs.push_back(fleet.submit(sleep_job(op_s), 1.0));
  return runs;
}

void expect_exactly_once(Fleet& fleet, const std::vector<std::string>& runs) {
  ASSERT_TRUE(fleet.wait_runs(runs, 90s)) << "runs did not finish";
  for (const auto& r : runs) EXPECT_EQ(fleet.run_status(r), "succeeded") << r;
  Audit audit = fleet.audit();
  EXPECT_TRUE(audit.clean()) << audit.describe();
  for (const auto& [key, n] : audit.completions) EXPECT_EQ(n, 1) << key;
}

scaler::LocalActuator local_actuator(const std::string& instance) {
  scaler::LocalActuatorOptions o;
  o.instances = {instance};
  return scaler::LocalActuator::make(o).value();
}

// A fault injector with only `options`' kinds on, its first fault due at once.
scaler::FaultInjector injector(const scaler::FaultOptions& options, scaler::Actuator& actuator) {
  return scaler::FaultInjector(
      options, actuator, [] { return 0.5; },
      [](const std::string& path, std::string_view cmd) {
        return netfault::send_command(path, cmd);
      },
      SteadyClock::now() - std::chrono::hours(1));
}

TEST(ScalerLocal, ABurstScalesUpAQuietQueueScalesDownAndScaleInCutsNoOpShort) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 1, .slots = 1});
  ChildProcess scaler(scaler_args(fleet, sup.instance(),
                                  {"--run", "--poll-interval-ms", "300", "--min-workers", "1",
                                   "--max-workers", "4", "--scale-up-per-worker", "2",
                                   "--scale-down-per-worker", "1", "--scale-out-cooldown-s", "0",
                                   "--scale-in-cooldown-s", "1", "--http-listen", "127.0.0.1:0"}),
                      cli_environment(), fleet.dir() + "/scaler.log");
  ASSERT_TRUE(scaler.wait_for_output("scaler_started", 20s)) << scaler.output();

  const auto runs = submit_many(fleet, 16, 1.0);
  ASSERT_TRUE(Fleet::wait_until([&] { return sup.status().desired_workers == 4; }, 30s))
      << "never scaled to 4; scaler log:\n"
      << scaler.output();
  EXPECT_TRUE(sup.wait_running(4, 20s));
  expect_exactly_once(fleet, runs);
  ASSERT_TRUE(Fleet::wait_until([&] { return sup.status().desired_workers == 1; }, 30s))
      << "never scaled back to 1; scaler log:\n"
      << scaler.output();

  // Scale-in retired idle workers: no op was handed back or cut short.
  EXPECT_EQ(count_rows(fleet, "SELECT count(*) FROM attempts WHERE outcome <> 'succeeded'"), 0);
  EXPECT_EQ(count_rows(fleet, "SELECT count(*) FROM attempts"), 16);
  EXPECT_GE(count_rows(fleet,
                       "SELECT count(*) FROM scaling_events WHERE kind = 'action' AND "
                       "action = 'scale_out'"),
            3);
  // The scaler records an action after the supervisor took it, so the last row may land
  // just after the supervisor shows the new count.
  EXPECT_TRUE(Fleet::wait_until(
      [&] {
        return count_rows(fleet,
                          "SELECT count(*) FROM scaling_events WHERE kind = 'action' AND "
                          "action = 'scale_in'") >= 3;
      },
      10s))
      << "fewer than 3 scale_in actions recorded";
  EXPECT_GT(count_rows(fleet, "SELECT count(*) FROM queue_samples"), 0);

  // /metrics and /healthz of the running loop.
  std::uint16_t port = 0;
  {
    std::ifstream in(scaler.log_path());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == "http_listening") port = j.value("port", 0);
    }
  }
  ASSERT_NE(port, 0) << scaler.output();
  auto [code, body] = http_get(port, "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_NE(body.find("opfleet_scaler_desired_workers 1"), std::string::npos) << body;
  EXPECT_EQ(http_get(port, "/healthz").first, 200);

  scaler.signal(SIGTERM);
  auto status = scaler.wait(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << scaler.output();
}

TEST(ScalerLocal, DryRunPrintsTheDecisionAndItsReasonAndChangesNothing) {
  Fleet fleet;
  // Its workers poll the (empty) DLQ, so the messages below stay visible for the scaler.
  SupervisorProcess sup(fleet, {.workers = 1, .slots = 1, .queue_name = fleet.dlq_name()});
  for (int i = 0; i < 7; ++i) {
    fleet.send(fleet.queue_url(), {.body = "{}",
                                   .group_id = fmt::format("g{}", i),
                                   .deduplication_id = fmt::format("d{}", i)});
  }
  ChildProcess dry(scaler_args(fleet, sup.instance(),
                               {"--dry-run", "--min-workers", "1", "--max-workers", "4",
                                "--scale-up-per-worker", "5", "--scale-down-per-worker", "2"}),
                   cli_environment(), fleet.dir() + "/dry-run.log");
  auto status = dry.wait(30s);
  ASSERT_TRUE(status);
  const std::string out = dry.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out;
  EXPECT_NE(out.find("metrics:  visible 7, in flight 0"), std::string::npos) << out;
  EXPECT_NE(out.find("capacity: local desired 1, running 1"), std::string::npos) << out;
  EXPECT_NE(out.find("policy:   threshold"), std::string::npos) << out;
  EXPECT_NE(out.find("decision: scale_out 1 -> 2"), std::string::npos) << out;
  EXPECT_NE(out.find("reason:   visible 7 > 1 workers x 5"), std::string::npos) << out;
  EXPECT_EQ(sup.status().desired_workers, 1u) << "a dry run must not scale";
  EXPECT_EQ(count_rows(fleet, "SELECT count(*) FROM scaling_events"), 0);
}

TEST(ScalerMetrics, ReadsQueueCountsFromTheEmulatorAndTheOldestQueuedAge) {
  Fleet fleet;
  store::Connection db({.url = fleet.database_url()});
  scaler::MetricsSource source(fleet.sqs(), &db, fleet.queue_url(), fleet.queue_name());
  auto empty = source.read();
  ASSERT_FALSE(empty.queue_error) << empty.queue_error->describe();
  EXPECT_EQ(empty.metrics.visible, 0);
  EXPECT_FALSE(empty.metrics.oldest_queued_age_s) << "nothing queued: no age";

  const std::string run = fleet.submit(sleep_job(0.1), 1.0);  // no worker: stays queued
  ASSERT_TRUE(Fleet::wait_until([&] { return source.read().metrics.visible == 1; }, 10s));
  auto r = source.read();
  EXPECT_EQ(r.metrics.in_flight, 0);
  ASSERT_TRUE(r.metrics.oldest_queued_age_s);
  EXPECT_GE(*r.metrics.oldest_queued_age_s, 0.0);
  EXPECT_LT(*r.metrics.oldest_queued_age_s, 60.0);
  ASSERT_TRUE(source.record_sample(r.metrics));
  EXPECT_EQ(count_rows(fleet, fmt::format("SELECT count(*) FROM queue_samples WHERE queue = '{}' "
                                          "AND visible = 1",
                                          fleet.queue_name())),
            1);

  scaler::MetricsSource broken(fleet.sqs(), &db, fleet.queue_url() + "-missing", "missing");
  auto b = broken.read();
  EXPECT_TRUE(b.queue_error);
  EXPECT_FALSE(b.metrics.visible) << "a failed read leaves the metric unknown, not 0";
}

TEST(ScalerFaults, KillWorkerSigkillsABusyWorkerAndNothingIsLostOrDoubled) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 2});
  const auto runs = submit_many(fleet, 6, 2.0);
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        for (const auto& w : sup.status().workers) {
          if (w.slots_busy > 0) return true;
        }
        return false;
      },
      20s));
  auto actuator = local_actuator(sup.instance());
  scaler::FaultOptions o;
  o.kill = {true, 1h, 0, 1};
  auto inj = injector(o, actuator);
  auto ev = inj.tick(SteadyClock::now());
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_TRUE(ev[0].ok) << ev[0].reason;
  const std::string victim = ev[0].details["worker"];
  const int pid = std::stoi(victim.substr(victim.find('/') + 1));
  EXPECT_TRUE(sup.wait_for_event("worker_crashed", 10s, [pid](const nlohmann::json& j) {
    return j.value("pid", 0) == pid;
  })) << "the killed worker's exit was not seen";
  expect_exactly_once(fleet, runs);
  EXPECT_GE(count_rows(fleet, "SELECT count(*) FROM attempts WHERE outcome <> 'succeeded'"), 1)
      << "the kill cut an op short, so an attempt must show it";
}

TEST(ScalerFaults, DrainEmptiesTheFleetThenRestoreResumesIt) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 2});
  auto actuator = local_actuator(sup.instance());
  const auto first = submit_many(fleet, 4, 1.0);
  ASSERT_TRUE(Fleet::wait_until([&] { return sup.status().ops_in_flight() > 0; }, 20s));

  scaler::FaultOptions o;
  o.drain = {true, 1h, 0, 1};
  o.drain_duration = 0ms;
  o.drain_settle_timeout = 30s;
  auto inj = injector(o, actuator);
  auto ev = inj.tick(SteadyClock::now());
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_TRUE(ev[0].ok) << ev[0].reason;
  EXPECT_TRUE(ev[0].details["settled"]) << ev[0].reason;
  EXPECT_TRUE(inj.drain_active());
  EXPECT_FALSE(sup.status().receiving);
  EXPECT_EQ(sup.status().ops_in_flight(), 0u);

  // Drained: new work waits in the queue.
  const auto second = submit_many(fleet, 3, 0.2);
  ASSERT_TRUE(
      Fleet::wait_until([&] { return fleet.queue_counts(fleet.queue_url()).visible >= 3; }, 10s));
  ev = inj.tick(SteadyClock::now());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "restore");
  EXPECT_TRUE(ev[0].ok) << ev[0].reason;
  EXPECT_TRUE(Fleet::wait_until([&] { return sup.status().receiving; }, 10s));
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  expect_exactly_once(fleet, all);
}

TEST(ScalerFaults, PartitionCutsWorkersOffSqsAndPostgresThroughNetfaultThenHeals) {
  Fleet fleet;
  // The proxies the cut-off worker reaches both services through, with control sockets as
  // `opfleet netfault --control` has them.
  const auto sqs_port = std::stoi(fleet.sqs_endpoint().substr(fleet.sqs_endpoint().rfind(':') + 1));
  auto pg_proxy =
      netfault::TcpProxy::start({.upstream = {fleet.database_host(), fleet.database_port()}});
  auto sqs_proxy = netfault::TcpProxy::start({.upstream = {"127.0.0.1", sqs_port}});
  ASSERT_TRUE(pg_proxy && sqs_proxy);
  auto pg_ctl = netfault::ControlServer::start(fleet.dir() + "/pg.sock", **pg_proxy);
  auto sqs_ctl = netfault::ControlServer::start(fleet.dir() + "/sqs.sock", **sqs_proxy);
  ASSERT_TRUE(pg_ctl && sqs_ctl);

  auto& cut = fleet.start_worker(
      {.worker_id = "cut-off",
       .slots = 2,
       .db_statement_timeout_ms = 1500,
       .database_url = fleet.database_url_via("127.0.0.1", (*pg_proxy)->port()),
       .sqs_endpoint = fmt::format("http://127.0.0.1:{}", (*sqs_proxy)->port())});
  const auto runs = submit_many(fleet, 6, 1.5);
  ASSERT_TRUE(cut.wait_for_event("op_started", 20s));

  // The local actuator is not involved in a partition; any actuator will do.
  SupervisorProcess sup(fleet, {.workers = 1, .slots = 2});  // a healthy worker takes over
  auto actuator = local_actuator(sup.instance());
  scaler::FaultOptions o;
  o.partition = {true, 1h, 0, 1};
  o.partition_duration = 6s;
  o.partition_target = scaler::PartitionTarget::kBoth;
  o.sqs_control = fleet.dir() + "/sqs.sock";
  o.pg_control = fleet.dir() + "/pg.sock";
  auto inj = injector(o, actuator);
  const auto t = SteadyClock::now();
  auto ev = inj.tick(t);
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_TRUE(ev[0].ok) << ev[0].reason;
  EXPECT_EQ(netfault::send_command(o.pg_control, "status").value().find("\"mode\":\"blackhole\"") !=
                std::string::npos,
            true);
  // During the cut, the healthy worker completes runs while the cut-off one cannot.
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        int done = 0;
        for (const auto& r : runs) done += fleet.run_status(r) == "succeeded" ? 1 : 0;
        return done >= 1;
      },
      30s));
  ASSERT_TRUE(
      Fleet::wait_until([&] { return SteadyClock::now() >= t + o.partition_duration; }, 20s));
  ev = inj.tick(SteadyClock::now());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "heal");
  EXPECT_TRUE(ev[0].ok) << ev[0].reason;
  EXPECT_NE(netfault::send_command(o.sqs_control, "status").value().find("\"mode\":\"pass\""),
            std::string::npos);
  expect_exactly_once(fleet, runs);
  EXPECT_TRUE(cut.process().running()) << "the cut-off worker must survive the partition";
}

}  // namespace
}  // namespace opfleet::testing
