// The supervisor's figures (DESIGN.md "Targets"), measured with real processes on the local
// stack:
//   1. time to READY with 8 workers: from spawning `opfleet supervise` to its READY=1
//      datagram on a NOTIFY_SOCKET this program binds (target < 200 ms);
//   2. RSS of the supervisor and of its (idle) workers (target: worker < 8 MB);
//   3. crash recovery latency: a worker running an op is SIGKILLed; time until another
//      worker holds the op again with a new fencing token (its PostgreSQL claim done, the
//      op starting) — target p50 < 0.5 s — and the supervisor's own figure (its
//      SIGCHLD to all claims handed back, from its claims_recovered log lines).
//
//   . .stack/env && build/bin/supervisor_bench [--ready-runs N] [--crashes N] [--workers W]
//
// It works in a database and queues of its own (dropped/deleted at the end).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/proc.h"
#include "jobs/job.h"
#include "shm/segment.h"
#include "sqs/client.h"
#include "sqs/provision.h"
#include "store/connection.h"
#include "store/migrations.h"
#include "supervisor/instance_status.h"
#include "supervisor/sd_notify.h"
#include "worker/submit.h"

extern char** environ;

namespace {

using namespace opfleet;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    fmt::print(stderr, "supervisor_bench: {} is not set (. .stack/env first)\n", name);
    std::exit(2);
  }
  return v;
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) {
    fmt::print(stderr, "supervisor_bench: {}: {}\n", what, r.error().describe());
    std::exit(1);
  }
  return std::move(*r);
}

std::string with_database(const std::string& url, const std::string& db) {
  auto slash = url.rfind('/');
  auto q = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (q == std::string::npos ? "" : url.substr(q));
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Polls `f` until true or the timeout; false on timeout.
template <class F>
bool wait_for(F&& f, milliseconds timeout,
              std::chrono::microseconds every = std::chrono::microseconds(1000)) {
  const auto end = Clock::now() + timeout;
  while (!f()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

struct Setup {
  std::string bin;
  std::string db_url;
  std::string sqs_endpoint;
  std::string queue_name;
  std::string dlq_name;
  std::string dir;
};

class Supervisor {
 public:
  Supervisor(const Setup& s, const std::string& instance, int workers,
             const std::vector<std::string>& extra_env, const std::vector<std::string>& extra_args)
      : instance_(instance), log_(fmt::format("{}/{}.log", s.dir, instance)) {
    std::vector<std::string> args = {s.bin,
                                     "supervise",
                                     "--instance",
                                     instance,
                                     "--workers",
                                     std::to_string(workers),
                                     "--log-format",
                                     "json",
                                     "--database-url",
                                     s.db_url,
                                     "--sqs-endpoint",
                                     s.sqs_endpoint,
                                     "--queue-name",
                                     s.queue_name,
                                     "--dlq-name",
                                     s.dlq_name,
                                     "--receive-wait-s",
                                     "1",
                                     "--lease-ms",
                                     "60000",
                                     "--slots",
                                     "1"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    started_ = Clock::now();
    if (posix_spawn(&pid_, s.bin.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) {
      fmt::print(stderr, "supervisor_bench: cannot spawn {}\n", s.bin);
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Supervisor() { stop(); }

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  const std::string& log_path() const { return log_; }

  // Shared memory as `opfleet status` reads it (the mapping is kept: polled often).
  std::optional<supervisor::InstanceStatus> status() {
    if (!segment_) {
      auto seg = shm::SegmentHandle::attach(instance_);
      if (!seg) return std::nullopt;
      segment_.emplace(std::move(*seg));
    }
    return supervisor::read_status(*segment_->get(), instance_, monotonic_ns());
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

 private:
  std::string instance_;
  std::string log_;
  std::optional<shm::SegmentHandle> segment_;
  pid_t pid_ = -1;
  Clock::time_point started_;
};

// A field of /proc/<pid>/smaps_rollup in MiB ("Pss", "Private_Dirty"...), 0 if unknown.
double smaps_mib(pid_t pid, const std::string& field) {
  std::ifstream in(fmt::format("/proc/{}/smaps_rollup", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) {
      return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
    }
  }
  return 0;
}

double private_mib(pid_t pid) {
  return smaps_mib(pid, "Private_Dirty") + smaps_mib(pid, "Private_Clean");
}

// Time to READY=1 on our notification socket, `runs` times.
std::vector<double> measure_ready(const Setup& s, int workers, int runs) {
  std::vector<double> out;
  for (int i = 0; i < runs; ++i) {
    const std::string name = fmt::format("@opfleet-bench-{}-{}", getpid(), i);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto addr = must(supervisor::notify_address(name), "notify address");
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr.addr), addr.length) != 0) std::exit(1);
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    Supervisor sup(s, fmt::format("bench-ready-{}-{}", getpid(), i), workers,
                   {"NOTIFY_SOCKET=" + name}, {});
    char buf[512];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0) {
        fmt::print(stderr, "supervisor_bench: no READY within 30 s (see {})\n", sup.log_path());
        std::exit(1);
      }
      if (std::string_view(buf, static_cast<std::size_t>(n)).starts_with("READY=1")) break;
    }
    out.push_back(ms(Clock::now() - sup.started()));
    close(fd);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int ready_runs = 5;
  int crashes = 30;
  int workers = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--ready-runs")
      ready_runs = std::atoi(argv[i + 1]);
    else if (a == "--crashes")
      crashes = std::atoi(argv[i + 1]);
    else if (a == "--workers")
      workers = std::atoi(argv[i + 1]);
  }
  log::configure(log::Level::kWarn, log::Format::kText, "supervisor_bench");
  Setup s;
  s.bin = (std::filesystem::path(argv[0]).parent_path() / "opfleet").string();
  const std::string tag =
      fmt::format("supbench_{}_{:x}", getpid(), std::random_device{}() & 0xffff);
  const std::string admin = env("OPFLEET_PG_ADMIN_URL");
  s.db_url = with_database(admin, tag);
  s.sqs_endpoint = env("OPFLEET_SQS_ENDPOINT");
  {
    store::Connection a(store::ConnectionOptions{.url = admin});
    must(a.exec("CREATE DATABASE " + tag), "create database");
  }
  store::Connection db(store::ConnectionOptions{.url = s.db_url});
  must(store::migrate(db), "migrate");
  sqs::ClientConfig cc;
  cc.endpoint = s.sqs_endpoint;
  cc.region = "us-east-1";
  auto client = must(sqs::Client::make(cc), "sqs client");
  s.queue_name = fmt::format("supbench-{}.fifo", getpid());
  s.dlq_name = sqs::default_dlq_name(s.queue_name);
  sqs::ProvisionSpec spec;
  spec.queue_name = s.queue_name;
  spec.visibility_timeout_s = 60;
  spec.max_receive_count = 1000;  // every kill is one more receive: keep it out of the DLQ
  auto provisioned = must(sqs::provision(client, spec), "provision");
  s.dir = std::filesystem::temp_directory_path() / tag;
  std::filesystem::create_directories(s.dir);

  // 1. Time to READY with 8 workers.
  auto ready = measure_ready(s, 8, ready_runs);
  fmt::print("time to READY, 8 workers: p50 {:.1f} ms, min {:.1f} ms, max {:.1f} ms ({} runs)\n",
             percentile(ready, 0.5), percentile(ready, 0), percentile(ready, 1), ready.size());

  // 2 and 3 on one supervisor: idle RSS, then crashes.
  {
    const std::string instance = fmt::format("bench-crash-{}", getpid());
    Supervisor sup(s, instance, workers, {},
                   {"--restart-backoff-base-ms", "10", "--crash-loop-max", "100000"});
    if (!wait_for(
            [&] {
              auto st = sup.status();
              return st && st->workers_in("running") == workers;
            },
            milliseconds(30000))) {
      fmt::print(stderr, "supervisor_bench: workers not up (see {})\n", sup.log_path());
      return 1;
    }
    std::this_thread::sleep_for(milliseconds(1500));  // settled: connections made, first polls
    // RSS counts the shared libraries (libcrypto, libpq, libstdc++...) in every process;
    // PSS splits shared pages among their users, and private memory is what one more
    // worker really costs.
    std::vector<double> worker_rss, worker_pss, worker_private;
    // Keep the status alive: a range-for over a member of a temporary dangles (C++20).
    const auto status = sup.status();
    if (!status) {
      fmt::print(stderr, "supervisor_bench: no status from the supervisor\n");
      return 1;
    }
    for (const auto& w : status->workers) {
      worker_rss.push_back(static_cast<double>(process_rss_bytes(w.pid).value_or(0)) / 1048576.0);
      worker_pss.push_back(smaps_mib(w.pid, "Pss"));
      worker_private.push_back(private_mib(w.pid));
    }
    const double sup_rss =
        static_cast<double>(process_rss_bytes(sup.pid()).value_or(0)) / 1048576.0;
    fmt::print(
        "RSS: supervisor {:.1f} MiB (PSS {:.1f}, private {:.1f}); idle workers ({}): RSS "
        "median {:.1f} MiB, max {:.1f}; PSS median {:.1f} MiB; private median {:.1f} MiB\n",
        sup_rss, smaps_mib(sup.pid(), "Pss"), private_mib(sup.pid()), worker_rss.size(),
        percentile(worker_rss, 0.5), percentile(worker_rss, 1), percentile(worker_pss, 0.5),
        percentile(worker_private, 0.5));

    // One long op that keeps moving: each round kills the worker running it.
    jobs::JobDef job;
    job.name = "bench_sleep";
    job.schedule = "";
    job.max_attempts = jobs::kMaxAttemptsLimit;
    jobs::OpDef op;
    op.key = "sleep";
    op.params = jobs::SleepParams{3600, 0};
    job.ops.push_back(op);
    auto run = must(worker::submit_run(db, client, provisioned.queue.url, job, {}, 1.0), "submit");
    const std::string key = run.run_id + "#sleep";
    auto holder = [&]() -> std::pair<pid_t, std::int64_t> {
      auto st = sup.status();
      if (!st) return {0, 0};
      for (const auto& w : st->workers) {
        for (const auto& c : w.claims) {
          if (c.key == key && c.fencing_token > 0) return {w.pid, c.fencing_token};
        }
      }
      return {0, 0};
    };
    std::vector<double> latencies;
    std::int64_t last_token = 0;
    for (int i = 0; i < crashes; ++i) {
      std::pair<pid_t, std::int64_t> h;
      // A full complement of workers before each kill: the op must find a free one.
      if (!wait_for(
              [&] {
                auto st = sup.status();
                h = holder();
                return st && st->workers_in("running") == workers && h.first > 0 &&
                       h.second > last_token;
              },
              milliseconds(30000))) {
        fmt::print(stderr, "supervisor_bench: op not running (see {})\n", sup.log_path());
        return 1;
      }
      last_token = h.second;
      const auto t0 = Clock::now();
      kill(h.first, SIGKILL);
      if (!wait_for([&] { return holder().second > last_token; }, milliseconds(30000),
                    std::chrono::microseconds(200))) {
        fmt::print(stderr, "supervisor_bench: op not taken over (see {})\n", sup.log_path());
        if (auto attrs = client.get_queue_attributes(provisioned.queue.url)) {
          for (const auto& [k, v] : *attrs) fmt::print(stderr, "  {} = {}\n", k, v);
        }
        return 1;
      }
      latencies.push_back(ms(Clock::now() - t0));
    }
    sup.stop();
    std::vector<double> internal;
    std::ifstream log(sup.log_path());
    for (std::string line; std::getline(log, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == "claims_recovered") {
        internal.push_back(j.value("latency_us", 0.0) / 1000.0);
      }
    }
    fmt::print(
        "crash recovery, SIGKILL -> op running again ({} kills, {} workers): p50 {:.1f} ms, "
        "p95 {:.1f} ms, max {:.1f} ms\n",
        latencies.size(), workers, percentile(latencies, 0.5), percentile(latencies, 0.95),
        percentile(latencies, 1));
    fmt::print(
        "  of which the supervisor's part, SIGCHLD -> claims handed back: p50 {:.2f} ms, "
        "p95 {:.2f} ms\n",
        percentile(internal, 0.5), percentile(internal, 0.95));
  }

  (void)client.delete_queue(provisioned.queue.url);
  (void)client.delete_queue(provisioned.dlq.url);
  std::filesystem::remove_all(s.dir);
  store::Connection a(store::ConnectionOptions{.url = admin});
  (void)a.exec("DROP DATABASE " + tag + " WITH (FORCE)");
  return 0;
}
