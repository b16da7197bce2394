// Signals, the control commands, systemd notifications and the HTTP endpoint of a real
// `opfleet supervise`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "shm/segment.h"
#include "supervisor/sd_notify.h"
#include "tests/supervisor/supervisor_process.h"
#include "tests/support/http_server.h"

namespace opfleet::testing {
namespace {

std::string key_of(const std::string& run) {
  return run + "#sleep";
}

bool has_claim(const SupervisorProcess& sup, const std::string& key, pid_t* holder = nullptr) {
  for (const auto& w : sup.status().workers) {
    for (const auto& c : w.claims) {
      if (c.key == key && c.fencing_token > 0) {
        if (holder != nullptr) *holder = w.pid;
        return true;
      }
    }
  }
  return false;
}

TEST(SupervisorControlTest, SigtermDrainsInFlightOpsAndExitsZero) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .drain_timeout_s = 10});
  const std::string run = fleet.submit(sleep_job(2), 1.0);
  ASSERT_TRUE(Fleet::wait_until([&] { return has_claim(sup, key_of(run)); }, seconds(20)));
  sup.process().signal(SIGTERM);
  auto status = sup.process().wait(seconds(30));
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  // The op finished during the drain: one attempt, succeeded, nothing handed back.
  EXPECT_EQ(fleet.run_status(run), "succeeded");
  auto attempts = fleet.attempts_of(key_of(run));
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "succeeded");
  EXPECT_FALSE(sup.events("supervisor_draining").empty());
  EXPECT_EQ(sup.events("supervisor_stopped").at(0)["exit_code"], 0);
  auto gone = shm::SegmentHandle::attach(sup.instance());
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);  // removed on a clean exit
}

TEST(SupervisorControlTest, TtinTtouAndScaleChangeTheWorkerCount) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 1});
  sup.process().signal(SIGTTIN);
  EXPECT_TRUE(sup.wait_running(3));
  sup.process().signal(SIGTTOU);
  EXPECT_TRUE(sup.wait_running(2));
  auto r = sup.cli({"scale", "--instance", sup.instance(), "--workers", "4", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sup.status().desired_workers, 4u);
  EXPECT_EQ(sup.status().workers_in("running"), 4);

  // Scaling in drains idle workers first: the one running an op stays.
  const std::string run = fleet.submit(sleep_job(3), 1.0);
  pid_t busy = 0;
  ASSERT_TRUE(Fleet::wait_until([&] { return has_claim(sup, key_of(run), &busy); }, seconds(20)));
  r = sup.cli({"scale", "--instance", sup.instance(), "--workers", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(sup.wait_running(1));
  EXPECT_EQ(sup.running_pids(), std::vector<pid_t>{busy});
  EXPECT_EQ(fleet.wait_run(run), "succeeded");
  EXPECT_EQ(fleet.attempts_of(key_of(run)).size(), 1u);

  r = sup.cli({"scale", "--instance", sup.instance(), "--workers", "65"});
  EXPECT_NE(r.exit_code, 0);
}

TEST(SupervisorControlTest, HupRollsTheWorkersWithoutDroppingInFlightOps) {
  Fleet fleet;
  const std::string config = fleet.dir() + "/supervise.conf";
  std::ofstream(config) << "[supervise]\nslots = 2\n";
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 0, .config_file = config});
  std::vector<pid_t> old = sup.running_pids();
  ASSERT_EQ(old.size(), 2u);
  for (const auto& w : sup.status().workers) EXPECT_EQ(w.slots_total, 2u);

  const std::string run = fleet.submit(sleep_job(3), 1.0);
  ASSERT_TRUE(Fleet::wait_until([&] { return has_claim(sup, key_of(run)); }, seconds(20)));
  std::ofstream(config, std::ios::trunc) << "[supervise]\nslots = 3\n";
  sup.process().signal(SIGHUP);

  ASSERT_TRUE(sup.wait_for_event("rolling_restart", seconds(5)));
  const bool rolled = Fleet::wait_until(
      [&] {
        auto s = sup.status();
        if (s.workers.size() != 2 || s.workers_in("running") != 2) return false;
        for (const auto& w : s.workers) {
          if (w.slots_total != 3 || std::find(old.begin(), old.end(), w.pid) != old.end())
            return false;
        }
        return true;
      },
      seconds(30));
  EXPECT_TRUE(rolled) << sup.process().output();
  // The op in flight during the reload finished in its first attempt.
  EXPECT_EQ(fleet.wait_run(run), "succeeded");
  auto attempts = fleet.attempts_of(key_of(run));
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "succeeded");
}

TEST(SupervisorControlTest, DrainResumeAndStatusFromTheCli) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 1});
  auto r = sup.cli({"drain", "--instance", sup.instance()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(Fleet::wait_until([&] { return !sup.status().receiving; }, seconds(5)));
  ASSERT_TRUE(sup.wait_for_event("signal", seconds(5), [](const nlohmann::json& j) {
    return j.value("action", "") == "pause receiving";
  }));
  const std::string run = fleet.submit(sleep_job(0.1), 1.0);
  // Paused: the step is not taken (bounded wait for something that must not happen).
  EXPECT_FALSE(Fleet::wait_until([&] { return !fleet.attempts(run).empty(); }, milliseconds(2500)));

  r = sup.cli({"status", "--instance", sup.instance(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["instance"], sup.instance());
  EXPECT_EQ(j["receiving"], false);
  EXPECT_EQ(j["desired_workers"], 1);
  ASSERT_EQ(j["workers"].size(), 1u);
  EXPECT_EQ(j["workers"][0]["state"], "running");
  EXPECT_LT(j["workers"][0]["heartbeat_age_s"].get<double>(), 2.0);

  r = sup.cli({"resume", "--instance", sup.instance()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(fleet.wait_run(run), "succeeded");
  r = sup.cli({"status", "--instance", sup.instance()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("1 running, receiving"), std::string::npos) << r.output;

  const std::string none = unique_name("none");
  for (const char* cmd : {"status", "drain", "resume"}) {
    r = sup.cli({cmd, "--instance", none});
    EXPECT_EQ(r.exit_code, 69) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find(fmt::format("no supervisor runs instance '{}'", none)),
              std::string::npos)
        << r.output;
  }

  r = sup.cli({"drain", "--instance", sup.instance(), "--exit", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto status = sup.process().wait(seconds(5));
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  NotifySocket() : name_("@" + unique_name("opfleet-sd")) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto a = supervisor::notify_address(name_);
    if (!a || bind(fd_, reinterpret_cast<const sockaddr*>(&a->addr), a->length) != 0) {
      throw std::runtime_error("bind " + name_);
    }
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { close(fd_); }
  const std::string& name() const { return name_; }
  // The next message that is not a watchdog ping (those are counted).
  std::string next() {
    for (;;) {
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0) return "<timeout>";
      std::string m(buf, static_cast<std::size_t>(n));
      if (m == "WATCHDOG=1") {
        ++watchdogs;
        continue;
      }
      return m;
    }
  }
  int watchdogs = 0;

 private:
  int fd_ = -1;
  std::string name_;
};

TEST(SupervisorControlTest, NotifiesSystemdInOrder) {
  Fleet fleet;
  NotifySocket sd;
  SupervisorProcess sup(fleet, {.workers = 2,
                                .extra_env = {"NOTIFY_SOCKET=" + sd.name(), "WATCHDOG_USEC=200000"},
                                .wait_ready = false});
  // The first message is READY, sent once both workers are attached.
  std::string m = sd.next();
  EXPECT_EQ(m, "READY=1\nSTATUS=2/2 workers running, 0 ops in flight") << sup.process().output();
  for (pid_t pid : sup.running_pids()) {
    std::ifstream env(fmt::format("/proc/{}/environ", pid));
    std::stringstream all;
    all << env.rdbuf();
    EXPECT_EQ(all.str().find("NOTIFY_SOCKET="), std::string::npos) << "worker " << pid;
    EXPECT_EQ(all.str().find("WATCHDOG_USEC="), std::string::npos) << "worker " << pid;
  }

  sup.process().signal(SIGHUP);
  m = sd.next();
  EXPECT_TRUE(m.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << m;
  const auto mono = std::stoull(m.substr(m.find("MONOTONIC_USEC=") + 15));
  EXPECT_GT(mono, 0u);
  m = sd.next();
  EXPECT_TRUE(m.starts_with("READY=1\nSTATUS=")) << m;

  sup.process().signal(SIGTERM);
  m = sd.next();
  while (m.starts_with("STATUS=")) m = sd.next();  // live counts may come first
  EXPECT_TRUE(m.starts_with("STOPPING=1\nEXTEND_TIMEOUT_USEC=")) << m;
  auto status = sup.process().wait(seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_GE(sd.watchdogs, 1);  // pinged every 100 ms while it ran
}

TEST(SupervisorControlTest, HealthzAndMetricsAnswer) {
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 2, .slots = 3, .http_listen = "127.0.0.1:0"});
  auto port = sup.events("http_listening").at(0)["port"].get<std::uint16_t>();
  ASSERT_NE(port, 0);
  auto [code, body] = http_get(port, "/healthz");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body, "ok\n");
  std::tie(code, body) = http_get(port, "/metrics");
  EXPECT_EQ(code, 200);
  for (const char* line :
       {"opfleet_workers{state=\"running\"} 2\n", "opfleet_workers_desired 2\n",
        "opfleet_healthy 1\n", "opfleet_receiving 1\n", "opfleet_slots 6\n",
        "opfleet_ops_in_flight 0\n", "# TYPE opfleet_ops_started_total counter\n"}) {
    EXPECT_NE(body.find(line), std::string::npos) << line << "\n" << body;
  }
  std::tie(code, body) = http_get(port, "/nope");
  EXPECT_EQ(code, 404);

  // The heartbeat row the dashboard's fleet page reads, with each worker in its details.
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        auto rows = fleet.db().exec(
            "SELECT workers, total_slots, state, jsonb_array_length(details->'workers') AS n "
            "FROM supervisors WHERE pid = $1::int",
            {store::param::int64(sup.pid())});
        return rows && rows->size() == 1 && rows->front().get<int>("workers").value_or(0) == 2 &&
               rows->front().get<int>("total_slots").value_or(0) == 6 &&
               rows->front().get<std::string>("state").value_or("") == "running" &&
               rows->front().get<int>("n").value_or(0) == 2;
      },
      seconds(10)))
      << "no supervisors row for pid " << sup.pid();

  // Ops run: counters move.
  const std::string run = fleet.submit(sleep_job(0.05), 1.0);
  ASSERT_EQ(fleet.wait_run(run), "succeeded");
  // (The worker releases its claim after deleting the message and sending what follows.)
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        auto m = http_get(port, "/metrics").second;
        return m.find("opfleet_ops_succeeded_total 1\n") != std::string::npos &&
               m.find("opfleet_ops_in_flight 0\n") != std::string::npos;
      },
      seconds(5)));

  // An op in flight, then paused: still healthy, not receiving.
  const std::string slow = fleet.submit(sleep_job(3), 1.0);
  ASSERT_TRUE(Fleet::wait_until([&] { return has_claim(sup, key_of(slow)); }, seconds(20)));
  sup.process().signal(SIGUSR1);
  ASSERT_TRUE(Fleet::wait_until(
      [&] {
        return http_get(port, "/metrics").second.find("opfleet_receiving 0\n") != std::string::npos;
      },
      seconds(5)));
  std::tie(code, body) = http_get(port, "/metrics");
  EXPECT_NE(body.find("opfleet_ops_in_flight 1\n"), std::string::npos) << body;
  EXPECT_EQ(http_get(port, "/healthz").first, 200);
  // Draining (the op keeps it alive meanwhile): unhealthy, still answering.
  sup.process().signal(SIGTERM);
  ASSERT_TRUE(sup.wait_for_event("supervisor_draining", seconds(5)));
  std::tie(code, body) = http_get(port, "/healthz");
  EXPECT_EQ(code, 503);
  EXPECT_EQ(body, "draining\n");
  auto status = sup.process().wait(seconds(30));
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace opfleet::testing

namespace opfleet::testing {
namespace {

TEST(SupervisorControlTest, HoldsEcsScaleInProtectionWhileOpsRun) {
  HttpServer agent([](const HttpServerRequest&) {
    return HttpServerResponse::json(R"({"protection":{"ProtectionEnabled":true}})");
  });
  Fleet fleet;
  SupervisorProcess sup(fleet, {.workers = 1, .extra_env = {"ECS_AGENT_URI=" + agent.base_url()}});
  ASSERT_TRUE(agent.wait_for_requests(1, seconds(5)));  // start: clears any old protection
  const std::string run = fleet.submit(sleep_job(1), 1.0);
  ASSERT_TRUE(agent.wait_for_requests(2, seconds(20)));  // an op in flight: protected
  ASSERT_EQ(fleet.wait_run(run), "succeeded");
  ASSERT_TRUE(agent.wait_for_requests(3, seconds(15)));  // idle for the grace: dropped
  auto requests = agent.requests();
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.path, "/task-protection/v1/state");
  }
  EXPECT_EQ(nlohmann::json::parse(requests[0].body),
            nlohmann::json({{"ProtectionEnabled", false}}));
  EXPECT_EQ(nlohmann::json::parse(requests[1].body),
            nlohmann::json({{"ProtectionEnabled", true}, {"ExpiresInMinutes", 10}}));
  EXPECT_EQ(nlohmann::json::parse(requests[2].body),
            nlohmann::json({{"ProtectionEnabled", false}}));
  sup.process().signal(SIGTERM);
  ASSERT_TRUE(sup.process().wait(seconds(20)));
  EXPECT_EQ(agent.request_count(), 3u);  // already off: nothing more at exit
}

}  // namespace
}  // namespace opfleet::testing
