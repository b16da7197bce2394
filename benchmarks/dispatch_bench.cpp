// End-to-end dispatch throughput of zero-length ops: N runs of a one-op job (sleep 0),
// drained by W `opfleet worker` processes, in ops/second — next to the raw ceiling of
// the same SQS endpoint (receive 10 + DeleteMessageBatch with W clients, no database), and
// the PostgreSQL round trips and SQS calls each op costs (from the workers' counters).
//
//   . .stack/env && build/bin/dispatch_bench [--runs N] [--workers W] [--slots S]
//
// It works in a database and queues of its own (dropped/deleted at the end). The figure
// to read is "dispatch ops/s" and its ratio to "raw receive+delete msgs/s".
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "jobs/job.h"
#include "sqs/client.h"
#include "sqs/provision.h"
#include "store/connection.h"
#include "store/migrations.h"
#include "worker/ledger.h"
#include "worker/step_sender.h"
#include "worker/submit.h"

extern char** environ;

namespace {

using namespace opfleet;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    fmt::print(stderr, "dispatch_bench: {} is not set (. .stack/env first)\n", name);
    std::exit(2);
  }
  return v;
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) {
    fmt::print(stderr, "dispatch_bench: {}: {}\n", what, r.error().describe());
    std::exit(1);
  }
  return std::move(*r);
}

void must(Status s, const char* what) {
  if (!s) {
    fmt::print(stderr, "dispatch_bench: {}: {}\n", what, s.error().describe());
    std::exit(1);
  }
}

std::string with_database(const std::string& url, const std::string& db) {
  auto slash = url.rfind('/');
  auto q = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (q == std::string::npos ? "" : url.substr(q));
}

sqs::ClientConfig sqs_config() {
  sqs::ClientConfig c;
  c.endpoint = env("OPFLEET_SQS_ENDPOINT");
  c.region = "us-east-1";
  return c;
}

// Sends `n` step-sized messages (distinct FIFO groups) in batches of 10.
void fill_queue(sqs::Client& client, const std::string& url, int n) {
  std::string body(400, 'x');
  for (int i = 0; i < n; i += 10) {
    std::vector<sqs::OutgoingMessage> batch;
    for (int j = i; j < std::min(n, i + 10); ++j) {
      sqs::OutgoingMessage m;
      m.id = fmt::format("m{}", j - i);
      m.body = body;
      m.group_id = fmt::format("g{}", j);
      m.deduplication_id = fmt::format("d{}", j);
      batch.push_back(std::move(m));
    }
    must(client.send_message_batch(url, batch), "send batch");
  }
}

// The raw ceiling: W clients receive up to 10 and delete them in a batch until n are gone.
double raw_ceiling(const std::string& url, int n, int clients) {
  std::atomic<int> consumed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      auto client = must(sqs::Client::make(sqs_config()), "client");
      while (consumed.load() < n) {
        sqs::ReceiveOptions o;
        o.max_messages = 10;
        o.wait_seconds = 1;
        auto got = client.receive_messages(url, o);
        if (!got || got->empty()) continue;
        std::vector<sqs::DeleteEntry> del;
        for (size_t i = 0; i < got->size(); ++i) {
          del.push_back({fmt::format("d{}", i), (*got)[i].receipt_handle});
        }
        (void)client.delete_message_batch(url, del);
        consumed += static_cast<int>(got->size());
      }
    });
  }
  for (auto& t : threads) t.join();
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

pid_t spawn_worker(const std::string& bin, const std::vector<std::string>& args,
                   const std::string& log_path) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    fmt::print(stderr, "dispatch_bench: cannot start {}\n", bin);
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// The worker's last "worker_stopped" JSON line.
nlohmann::json final_counters(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  nlohmann::json last;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "worker_stopped") last = j;
  }
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 2000;
  int workers = 2;
  int slots = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--runs")
      runs = v;
    else if (a == "--workers")
      workers = v;
    else if (a == "--slots")
      slots = v;
  }
  log::configure(log::Level::kWarn, log::Format::kText, "dispatch_bench");
  const std::string bin = (std::filesystem::path(argv[0]).parent_path() / "opfleet").string();
  const std::string tag = fmt::format("dbench{}", getpid());
  const std::string admin = env("OPFLEET_PG_ADMIN_URL");
  const std::string db_url = with_database(admin, tag);
  {
    store::Connection a(store::ConnectionOptions{.url = admin});
    must(a.exec("CREATE DATABASE " + tag), "create database");
  }
  store::Connection db(store::ConnectionOptions{.url = db_url});
  must(store::migrate(db), "migrate");

  auto client = must(sqs::Client::make(sqs_config()), "sqs client");
  sqs::ProvisionSpec spec;
  spec.queue_name = tag + ".fifo";
  auto queues = must(sqs::provision(client, spec), "provision");
  const std::string queue_url = queues.queue.url;

  // 1. The raw ceiling on a queue of its own.
  sqs::ProvisionSpec raw_spec;
  raw_spec.queue_name = tag + "-raw.fifo";
  auto raw = must(sqs::provision(client, raw_spec), "provision raw");
  fill_queue(client, raw.queue.url, runs);
  double ceiling = raw_ceiling(raw.queue.url, runs, workers);

  // 2. Submit N runs of a one-op job (runs are created and sent before workers start).
  jobs::JobDef job;
  job.name = "zero_job";
  job.schedule = "";
  job.ops.push_back(jobs::OpDef{"noop", {}, jobs::SleepParams{0, 0}});
  auto submit_start = Clock::now();
  std::vector<worker::QueuedStep> pending;
  worker::Ledger ledger(db);
  for (int i = 0; i < runs; ++i) {
    auto created = must(worker::create_run(db, job, {{"bench", tag}}, 1.0), "create run");
    for (auto& q : created.roots) pending.push_back(std::move(q));
    if (pending.size() >= 10 || i + 1 == runs) {
      auto sent = worker::send_steps(client, queue_url, true, pending);
      must(ledger.mark_sent(sent), "mark sent");
      pending.clear();
    }
  }
  double submit_rate = runs / std::chrono::duration<double>(Clock::now() - submit_start).count();

  // 3. Workers drain the queue.
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int w = 0; w < workers; ++w) {
    logs.push_back(fmt::format("/tmp/{}-worker{}.log", tag, w));
    pids.push_back(spawn_worker(
        bin,
        {"worker", "--database-url", db_url, "--sqs-endpoint", env("OPFLEET_SQS_ENDPOINT"),
         "--queue-name", spec.queue_name, "--slots", std::to_string(slots), "--receive-wait-s", "1",
         "--log-format", "json", "--log-level", "warn", "--config", "/dev/null"},
        logs.back()));
  }
  for (;;) {
    auto rows = must(db.exec("SELECT count(*) FROM runs WHERE status <> 'succeeded'"), "poll");
    if (rows.front().get<std::int64_t>(0).value_or(1) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto span = must(db.exec("SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 "
                           "FROM steps"),
                   "span");
  double seconds = span.front().get<double>(0).value_or(1);
  for (pid_t p : pids) kill(p, SIGTERM);
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  std::uint64_t pg_round_trips = 0;
  std::uint64_t sqs_calls = 0;
  for (const auto& l : logs) {
    auto c = final_counters(l);
    pg_round_trips += c.value("pg_round_trips", 0ULL);
    sqs_calls += c.value("sqs_calls", 0ULL);
    std::filesystem::remove(l);
  }
  double dispatch = runs / seconds;

  fmt::print("dispatch_bench: {} zero-length ops, {} workers x {} slots, FIFO queue\n", runs,
             workers, slots);
  fmt::print("  submit (create run + send)   {:>9.0f} runs/s\n", submit_rate);
  fmt::print("  raw receive+delete ceiling   {:>9.0f} msgs/s ({} clients)\n", ceiling, workers);
  fmt::print("  dispatch end to end          {:>9.0f} ops/s\n", dispatch);
  fmt::print("  ratio ceiling / dispatch     {:>9.2f}x\n", ceiling / dispatch);
  fmt::print("  PostgreSQL round trips / op  {:>9.2f} (workers only)\n",
             static_cast<double>(pg_round_trips) / runs);
  fmt::print("  SQS calls / op               {:>9.2f} (workers only, incl. empty polls)\n",
             static_cast<double>(sqs_calls) / runs);

  (void)client.delete_queue(queue_url);
  (void)client.delete_queue(queues.dlq.url);
  (void)client.delete_queue(raw.queue.url);
  (void)client.delete_queue(raw.dlq.url);
  store::Connection a(store::ConnectionOptions{.url = admin});
  (void)a.exec("DROP DATABASE " + tag + " WITH (FORCE)");
  return 0;
}
