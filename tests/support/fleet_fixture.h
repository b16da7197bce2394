// End-to-end test fleet: a database and a pair of queues of its own, `opfleet worker`
// processes, run submission, and the exactly-once audit straight from PostgreSQL.
//
//   Fleet fleet;                                   // stack PostgreSQL + stack SQS emulator
//   auto& w = fleet.start_worker({.slots = 2});    // returns once the worker polls
//   auto run = fleet.submit(fleet.builtin("fast_job"), 0.002);
//   EXPECT_EQ(fleet.wait_run(run), "succeeded");
//   EXPECT_TRUE(fleet.audit().clean()) << fleet.audit().describe();
//
// Everything is unique per Fleet (database "e2e_<pid>_<n>_<hex>", queues
// "e2e-<pid>-<n>-<hex>.fifo" and its DLQ), so tests run in parallel with each other and
// with other suites. The destructor kills the workers that still run, deletes the queues
// and drops the database; when the test failed it prints the tail of every worker's log
// and keeps the temp dir (its path is printed).
//
// Failures to set up throw std::runtime_error (the test fails with the message); waits
// that time out return false/empty and the test asserts on that.
//
// Processes are forked from the calling thread and die with it (PR_SET_PDEATHSIG), so a
// test killed by its ctest timeout leaves no worker behind: call from the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/job.h"
#include "sqs/client.h"
#include "store/connection.h"

namespace opfleet::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A child process whose stdout and stderr go to a log file.
class ChildProcess {
 public:
  // Starts argv[0] (a path) with `env` as its whole environment; throws on failure.
  ChildProcess(std::vector<std::string> argv, std::vector<std::string> env, std::string log_path);
  ~ChildProcess();  // SIGKILL and reap, if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Not reaped yet (it may have exited meanwhile: see exited()).
  bool running() const { return pid_ > 0 && !status_; }
  // Reaps the process if it has exited; true once it has.
  bool exited();
  // Exited although the test neither signalled nor killed it (a crash, an abort).
  bool died_unexpectedly() { return exited() && !signalled_; }
  void signal(int sig);
  // Waits for the exit and returns the wait status (nullopt if still running at the end).
  std::optional<int> wait(milliseconds timeout);
  // SIGKILL, then reap.
  void kill_now();
  // The wait status, once reaped.
  std::optional<int> status() const { return status_; }

  const std::string& log_path() const { return log_path_; }
  std::string output() const;
  // Waits until the log contains `text` (true) or `timeout` passes (false).
  bool wait_for_output(std::string_view text, milliseconds timeout) const;

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
  bool signalled_ = false;
  std::string log_path_;
};

// A worker's knobs; defaults suit tests (short lease, 1 s long polls, fast retries).
struct WorkerSpec {
  std::string worker_id{};  // empty: "w<N>"
  int slots = 4;
  int lease_ms = 4000;
  int fence_margin_ms = 0;  // 0: the worker's default (a sixth of the lease)
  int receive_wait_s = 1;
  int drain_timeout_s = 10;
  int retry_base_ms = 200;
  int retry_cap_ms = 2000;
  int sweep_interval_ms = 1000;
  int db_statement_timeout_ms = 3000;
  int db_connect_timeout_s = 2;
  std::string database_url{};  // empty: the fleet's database
  std::string sqs_endpoint{};  // empty: the fleet's endpoint
  std::string log_level = "info";
  std::vector<std::string> command_allow{};
  std::vector<std::string> extra_args{};
};

// One `opfleet worker`, logging JSON lines.
class WorkerProcess {
 public:
  WorkerProcess(std::string id, std::unique_ptr<ChildProcess> process)
      : id_(std::move(id)), process_(std::move(process)) {}

  const std::string& id() const { return id_; }
  ChildProcess& process() { return *process_; }
  pid_t pid() const { return process_->pid(); }

  // Every JSON log line whose "event" is `event` (all of them when empty).
  std::vector<nlohmann::json> events(std::string_view event = {}) const;
  // Waits for a log line of `event` for which `match` holds (any, when empty); returns it.
  std::optional<nlohmann::json> wait_for_event(
      std::string_view event, milliseconds timeout,
      const std::function<bool(const nlohmann::json&)>& match = {}) const;
  // Same, for the event of one idempotency key ("key" field).
  std::optional<nlohmann::json> wait_for_key_event(std::string_view event, std::string_view key,
                                                   milliseconds timeout) const;

 private:
  std::string id_;
  std::unique_ptr<ChildProcess> process_;
};

struct FleetOptions {
  std::string pg_admin_url{};  // empty: OPFLEET_PG_ADMIN_URL (the stack's server)
  std::string sqs_endpoint{};  // empty: OPFLEET_SQS_ENDPOINT (the stack's emulator)
  bool fifo = true;
  int max_receive_count = 5;  // the queue's redrive policy
};

// Times below are microseconds since the epoch on the database clock (exact: no float
// rounding), which on one host is also the clock of `date` and of the test.
using Micros = std::int64_t;

// One row of the attempts log; ended_at is nullopt while the attempt runs.
struct AttemptRow {
  std::int64_t id = 0;
  std::string run_id;
  std::string step_key;
  std::string key;  // run_id#step_key
  int attempt = 0;
  std::int64_t fencing_token = 0;
  std::string worker_id;
  int pid = 0;
  Micros started_at = 0;
  std::optional<Micros> ended_at;
  std::string outcome;
  std::string error;
};

struct StepRow {
  std::string run_id;
  std::string step_key;
  std::string key;
  std::string status;
  int attempt = 0;
  int max_attempts = 0;
  std::vector<std::string> depends_on;
  std::optional<Micros> started_at;
  std::optional<Micros> finished_at;
  std::optional<Micros> lease_expires_at;
  std::int64_t fencing_token = 0;
  nlohmann::json result;  // null when none
  std::string error;
};

// The exactly-once audit (docs/claim-protocol.md, "The guarantee"), from the database
// alone. Its overlap check sees attempts as the log records them: a takeover closes the
// previous attempt at the instant it starts, so an execution that kept running after
// losing its lease (a broken self-fence) is invisible here. Tests of fencing therefore
// also check the op's own side effects (see fault_crash_partition_test.cpp).
struct Audit {
  std::map<std::string, int> completions;          // key -> succeeded attempts
  std::vector<std::string> duplicate_completions;  // keys completed more than once
  // A succeeded step without exactly one succeeded attempt, or a succeeded attempt of a
  // step that is not succeeded.
  std::vector<std::string> inconsistent;
  std::vector<std::string> overlaps;  // "key: attempts a and b overlap"
  std::vector<std::string> lost;      // steps not terminal (call once the runs finished)
  bool clean() const {
    return duplicate_completions.empty() && inconsistent.empty() && overlaps.empty() &&
           lost.empty();
  }
  std::string describe() const;
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options = {});
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // --- resources
  const std::string& database_name() const { return db_name_; }
  // key=value conninfo of the fleet's database (what workers get as --database-url).
  const std::string& database_url() const { return db_url_; }
  // The database server's address (to put a netfault proxy in front of it), and the
  // fleet's database reached through another host:port (that proxy).
  std::string database_host() const;
  int database_port() const;
  std::string database_url_via(const std::string& host, int port) const;
  store::Connection& db() { return *db_; }
  sqs::Client& sqs() { return *sqs_; }
  const std::string& sqs_endpoint() const { return sqs_endpoint_; }
  const std::string& queue_name() const { return queue_name_; }
  const std::string& dlq_name() const { return dlq_name_; }
  const std::string& queue_url() const { return queue_url_; }
  const std::string& dlq_url() const { return dlq_url_; }
  // A private directory for logs and test files (kept when the test fails).
  const std::string& dir() const { return dir_; }
  // Creates the queues (again: after an emulator restart, which forgets them).
  void provision_queues();

  // --- workers
  WorkerProcess& start_worker(WorkerSpec spec = {});
  std::vector<std::unique_ptr<WorkerProcess>>& workers() { return workers_; }

  // --- runs
  static const jobs::JobDef& builtin(std::string_view name);
  // Submits through the library (worker::submit_run); returns the run id.
  std::string submit(const jobs::JobDef& job, double time_scale);
  // The run's final status ("succeeded", "failed", "cancelled"), or "" on timeout.
  std::string wait_run(const std::string& run_id, milliseconds timeout = seconds(60));
  // True once every run has finished.
  bool wait_runs(const std::vector<std::string>& run_ids, milliseconds timeout = seconds(60));
  std::string run_status(const std::string& run_id);

  // --- database views
  std::vector<AttemptRow> attempts(const std::string& run_id = {});
  std::vector<AttemptRow> attempts_of(const std::string& key);
  std::vector<StepRow> steps(const std::string& run_id = {});
  StepRow step(const std::string& key);
  Audit audit();

  // --- queues
  struct QueueCounts {
    long visible = 0;
    long in_flight = 0;
    long delayed = 0;
    long total() const { return visible + in_flight + delayed; }
  };
  QueueCounts queue_counts(const std::string& queue_url);
  // Waits until the queue has no message, visible, in flight or delayed.
  bool wait_queue_empty(const std::string& queue_url, milliseconds timeout = seconds(30));
  // The message the workers would get for a step (as if re-sent), with group and
  // deduplication ids replaced by the given ones (FIFO).
  sqs::OutgoingMessage step_message(const std::string& key, const std::string& group_id,
                                    const std::string& deduplication_id);
  void send(const std::string& queue_url, const sqs::OutgoingMessage& message);
  // Receives (and deletes) until `want` messages came or `timeout` passed.
  std::vector<sqs::Message> take_messages(const std::string& queue_url, std::size_t want,
                                          milliseconds timeout = seconds(20));

  // Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false). For
  // state that can only be observed by asking (database rows, queue attributes).
  static bool wait_until(const std::function<bool()>& condition, milliseconds timeout);

 private:
  void create_database();
  void drop_database();
  std::vector<std::string> child_environment() const;
  // False (and a test failure with the log's tail) when a worker died unexpectedly.
  bool check_workers_alive();

  FleetOptions options_;
  std::string dir_;
  std::string admin_url_;
  std::string db_name_;
  std::string db_url_;
  std::unique_ptr<store::Connection> db_;
  std::string sqs_endpoint_;
  std::optional<sqs::Client> sqs_;
  std::string queue_name_;
  std::string dlq_name_;
  std::string queue_url_;
  std::string dlq_url_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::set<std::string> reported_dead_;
  int next_worker_ = 1;
};

}  // namespace opfleet::testing
