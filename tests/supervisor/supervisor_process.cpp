#include "tests/supervisor/supervisor_process.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "aws/http.h"
#include "common/proc.h"
#include "tests/support/stack_env.h"

extern char** environ;

namespace opfleet::testing {

namespace {

// The test's environment without OPFLEET_* (the stack's own settings must not leak into
// the supervisor: everything comes from flags), with dummy AWS credentials.
std::vector<std::string> base_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  bool has_key = false;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("OPFLEET_") || v.starts_with("NOTIFY_SOCKET=") ||
        v.starts_with("WATCHDOG_") || v.starts_with("ECS_AGENT_URI=")) {
      continue;
    }
    if (v.starts_with("AWS_ACCESS_KEY_ID=")) has_key = true;
    env.emplace_back(v);
  }
  if (!has_key) {
    env.emplace_back("AWS_ACCESS_KEY_ID=test");
    env.emplace_back("AWS_SECRET_ACCESS_KEY=test");
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

SupervisorProcess::SupervisorProcess(Fleet& fleet, SupervisorSpec spec) : fleet_(fleet) {
  instance_ = spec.instance.empty() ? unique_name("sup") : spec.instance;
  std::string config = spec.config_file;
  if (config.empty()) {
    config = fleet.dir() + "/supervise-empty.conf";
    std::ofstream(config) << "# everything from flags\n";
  }
  std::vector<std::string> argv = {
      opfleet_binary(),
      "supervise",
      "--instance",
      instance_,
      "--config",
      config,
      "--log-format",
      "json",
      "--workers",
      std::to_string(spec.workers),
      // The database URL goes to the workers through their environment, never argv.
      "--database-url",
      spec.database_url.empty() ? fleet.database_url() : spec.database_url,
      "--db-statement-timeout-ms",
      "3000",
      "--db-connect-timeout-s",
      "2",
      "--sqs-endpoint",
      spec.sqs_endpoint.empty() ? fleet.sqs_endpoint() : spec.sqs_endpoint,
      "--region",
      "us-east-1",
      "--queue-name",
      spec.queue_name.empty() ? fleet.queue_name() : spec.queue_name,
      "--dlq-name",
      fleet.dlq_name(),
      "--lease-ms",
      std::to_string(spec.lease_ms),
      "--receive-wait-s",
      std::to_string(spec.receive_wait_s),
      "--drain-timeout-s",
      std::to_string(spec.drain_timeout_s),
      "--hung-timeout-s",
      std::to_string(spec.hung_timeout_s),
      "--kill-grace-s",
      std::to_string(spec.kill_grace_s),
      "--retry-base-ms",
      "200",
      "--sweep-interval-ms",
      "1000",
      "--sqs-retry-base-ms",
      "100",
      "--sqs-retry-cap-ms",
      "1000",
  };
  if (spec.slots > 0) argv.insert(argv.end(), {"--slots", std::to_string(spec.slots)});
  if (!spec.http_listen.empty()) argv.insert(argv.end(), {"--http-listen", spec.http_listen});
  argv.insert(argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  auto child = std::make_unique<ChildProcess>(std::move(argv), base_environment(spec.extra_env),
                                              fmt::format("{}/{}.log", fleet.dir(), instance_));
  log_ = std::make_unique<WorkerProcess>(instance_, std::move(child));
  // The log file may hold an earlier supervisor of this instance: wait for this one's.
  const pid_t self = log_->pid();
  if (spec.wait_ready &&
      !wait_for_event("supervisor_ready", seconds(30),
                      [self](const nlohmann::json& j) { return j.value("pid", 0) == self; })) {
    throw std::runtime_error(fmt::format("supervisor {} not ready; its output:\n{}", instance_,
                                         log_->process().output()));
  }
}

SupervisorProcess::~SupervisorProcess() {
  ChildProcess& p = log_->process();
  if (p.running()) {
    p.signal(SIGTERM);
    if (!p.wait(seconds(30))) p.kill_now();
  }
  // Dead now: a segment still there is stale (its supervisor was killed).
  shm_unlink(("/" + shm::segment_name(instance_)).c_str());
}

std::vector<nlohmann::json> SupervisorProcess::events(std::string_view event) const {
  return log_->events(event);
}

std::optional<nlohmann::json> SupervisorProcess::wait_for_event(
    std::string_view event, milliseconds timeout,
    const std::function<bool(const nlohmann::json&)>& match) const {
  return log_->wait_for_event(event, timeout, match);
}

supervisor::InstanceStatus SupervisorProcess::status() const {
  auto segment = shm::SegmentHandle::attach(instance_);
  if (!segment) throw std::runtime_error(segment.error().message);
  return supervisor::read_status(*segment->get(), instance_, monotonic_ns());
}

std::vector<pid_t> SupervisorProcess::running_pids() const {
  std::vector<pid_t> out;
  for (const auto& w : status().workers) {
    if (w.state == "running") out.push_back(w.pid);
  }
  return out;
}

bool SupervisorProcess::wait_running(int n, milliseconds timeout) const {
  return Fleet::wait_until(
      [&] {
        auto s = status();
        return s.workers_in("running") == n && static_cast<int>(s.workers.size()) == n;
      },
      timeout);
}

SupervisorProcess::CliResult SupervisorProcess::cli(std::vector<std::string> args,
                                                    milliseconds timeout) const {
  static int n = 0;
  args.insert(args.begin(), opfleet_binary());
  ChildProcess p(std::move(args), base_environment({}),
                 fmt::format("{}/cli-{}-{}.log", fleet_.dir(), getpid(), n++));
  auto st = p.wait(timeout);
  CliResult r;
  r.output = p.output();
  if (st && WIFEXITED(*st)) r.exit_code = WEXITSTATUS(*st);
  return r;
}

jobs::JobDef sleep_job(double duration_s, int max_attempts) {
  jobs::JobDef job;
  job.name = "sleep_once";
  job.description = "one sleep op (supervisor tests)";
  job.schedule = "";
  job.max_attempts = max_attempts;
  jobs::OpDef op;
  op.key = "sleep";
  op.params = jobs::SleepParams{duration_s, 0};
  job.ops.push_back(std::move(op));
  return job;
}

Micros now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::pair<long, std::string> http_get(std::uint16_t port, const std::string& path) {
  aws::HttpClient client(aws::HttpOptions{
      std::chrono::milliseconds(2000), std::chrono::milliseconds(5000), true, {}, true, nullptr});
  auto r = client.send({"GET", fmt::format("http://127.0.0.1:{}{}", port, path), {}, {}});
  if (!r) return {0, r.error().describe()};
  return {r->status, r->body};
}

}  // namespace opfleet::testing
