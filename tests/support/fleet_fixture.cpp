#include "tests/support/fleet_fixture.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "jobs/registry.h"
#include "sqs/provision.h"
#include "store/migrations.h"
#include "tests/support/stack_env.h"
#include "worker/step_sender.h"
#include "worker/submit.h"

extern char** environ;

namespace opfleet::testing {

namespace param = store::param;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void sys_fail(const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(std::min<long>(left, 1 << 30)) : 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits until `ready(content of path)` holds, re-reading the file whenever it changes
// (inotify, watched before the first read so no write is missed).
bool wait_for_file(const std::string& path, milliseconds timeout,
                   const std::function<bool(const std::string&)>& ready) {
  const auto deadline = Clock::now() + timeout;
  int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) sys_fail("inotify_init1");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{in};
  if (::inotify_add_watch(in, path.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    sys_fail("inotify_add_watch " + path);
  }
  for (;;) {
    if (ready(read_file(path))) return true;
    if (Clock::now() >= deadline) return false;
    pollfd p{in, POLLIN, 0};
    int n = ::poll(&p, 1, ms_left(deadline));
    if (n < 0 && errno != EINTR) sys_fail("poll(inotify)");
    char buf[4096];
    while (::read(in, buf, sizeof buf) > 0) {
    }
  }
}

std::vector<nlohmann::json> json_lines(const std::string& text, std::string_view event) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;  // a partial last line, or not a log line
    if (!event.empty() && j.value("event", "") != event) continue;
    out.push_back(std::move(j));
  }
  return out;
}

std::string quote_conninfo(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// `url` (URI or key=value) as a key=value string, with `overrides` replacing (or adding)
// keywords and the keywords mapped to "" dropped.
std::string conninfo_with(const std::string& url,
                          const std::map<std::string, std::string>& overrides) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    throw std::runtime_error("bad database URL: " + why);
  }
  std::map<std::string, std::string> kv;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') kv[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  for (const auto& [k, v] : overrides) {
    if (v.empty()) {
      kv.erase(k);
    } else {
      kv[k] = v;
    }
  }
  std::string out;
  for (const auto& [k, v] : kv)
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, quote_conninfo(v));
  return out;
}

void admin_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("admin connection failed: " + why);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string why = good ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!good) throw std::runtime_error(fmt::format("{}: {}", sql, why));
}

template <class T>
T must(Result<T> r, std::string_view what) {
  if (!r) throw std::runtime_error(fmt::format("{}: {}", what, r.error().describe()));
  return std::move(*r);
}

std::string tail_lines(const std::string& text, std::size_t n) {
  std::size_t pos = text.size();
  for (std::size_t i = 0; i <= n && pos != std::string::npos && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// ChildProcess

ChildProcess::ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
                           std::string log_path)
    : log_path_(std::move(log_path)) {
  // Everything the child needs is built before fork(): after it, only async-signal-safe
  // calls (the test process may have other threads).
  std::vector<char*> av;
  for (auto& a : argv) av.push_back(a.data());
  av.push_back(nullptr);
  std::vector<char*> ev;
  for (auto& e : env) ev.push_back(e.data());
  ev.push_back(nullptr);
  const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) sys_fail("open " + log_path_);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    sys_fail("fork");
  }
  if (pid == 0) {
    // Dies with the test (its forking thread): no worker outlives a killed test binary.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(125);
    if (::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(124);
    // Close-on-exec: only the dup2 copy on fd 0 reaches the program.
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execve(av[0], av.data(), ev.data());
    ::_exit(127);
  }
  ::close(log);
  pid_ = pid;
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // close-on-exec always
  if (pidfd_ < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    sys_fail("pidfd_open");
  }
}

ChildProcess::~ChildProcess() {
  try {
    if (running()) kill_now();
  } catch (const std::exception& e) {
    fmt::print(stderr, "ChildProcess: {}\n", e.what());
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

void ChildProcess::signal(int sig) {
  signalled_ = true;
  if (running()) ::kill(pid_, sig);
}

bool ChildProcess::exited() {
  return wait(milliseconds(0)).has_value();
}

std::optional<int> ChildProcess::wait(milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{pidfd_, POLLIN, 0};
    int n = ::poll(&p, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) sys_fail("poll(pidfd)");
    if (n == 0) return std::nullopt;
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0) {
      if (errno != EINTR) sys_fail("waitpid");
    }
    status_ = st;
    return status_;
  }
}

void ChildProcess::kill_now() {
  signalled_ = true;
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  if (!wait(seconds(30))) throw std::runtime_error(fmt::format("pid {} survived SIGKILL", pid_));
}

std::string ChildProcess::output() const {
  return read_file(log_path_);
}

bool ChildProcess::wait_for_output(std::string_view text, milliseconds timeout) const {
  return wait_for_file(log_path_, timeout, [&](const std::string& content) {
    return content.find(text) != std::string::npos;
  });
}

// ---------------------------------------------------------------------------------------
// WorkerProcess

std::vector<nlohmann::json> WorkerProcess::events(std::string_view event) const {
  return json_lines(process_->output(), event);
}

std::optional<nlohmann::json> WorkerProcess::wait_for_event(
    std::string_view event, milliseconds timeout,
    const std::function<bool(const nlohmann::json&)>& match) const {
  std::optional<nlohmann::json> found;
  wait_for_file(process_->log_path(), timeout, [&](const std::string& content) {
    for (auto& j : json_lines(content, event)) {
      if (!match || match(j)) {
        found = std::move(j);
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<nlohmann::json> WorkerProcess::wait_for_key_event(std::string_view event,
                                                                std::string_view key,
                                                                milliseconds timeout) const {
  return wait_for_event(event, timeout,
                        [&](const nlohmann::json& j) { return j.value("key", "") == key; });
}

// ---------------------------------------------------------------------------------------
// Audit

std::string Audit::describe() const {
  std::string out;
  auto section = [&](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += fmt::format("{} ({}):\n", title, items.size());
    for (const auto& i : items) out += "  " + i + "\n";
  };
  section("completed more than once", duplicate_completions);
  section("status and attempts disagree", inconsistent);
  section("overlapping executions", overlaps);
  section("lost (not terminal)", lost);
  return out.empty() ? "audit clean" : out;
}

// ---------------------------------------------------------------------------------------
// Fleet

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "opfleet-e2e-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) sys_fail("mkdtemp");
  dir_ = tmpl;
  // Workers read this empty file instead of the host's /etc/opfleet/opfleet.conf.
  std::ofstream(dir_ + "/empty.conf") << "# opfleet e2e test: everything comes from flags\n";

  admin_url_ =
      options_.pg_admin_url.empty() ? stack_env("OPFLEET_PG_ADMIN_URL") : options_.pg_admin_url;
  create_database();

  store::ConnectionOptions o;
  o.url = db_url_;
  o.application_name = "opfleet-e2e-test";
  o.statement_timeout = Millis(10000);
  o.connect_timeout = std::chrono::seconds(2);
  o.reconnect = BackoffPolicy{Millis(50), Millis(500), 5};
  o.breaker = BreakerPolicy{1000, Millis(100)};  // the test's own session never fails fast
  db_ = std::make_unique<store::Connection>(o);
  must(store::migrate(*db_), "migrate");

  sqs_endpoint_ =
      options_.sqs_endpoint.empty() ? stack_env("OPFLEET_SQS_ENDPOINT") : options_.sqs_endpoint;
  sqs::ClientConfig c;
  c.endpoint = sqs_endpoint_;
  c.region = "us-east-1";
  c.credentials = aws::static_credentials({"test", "test", "", std::nullopt, "test"});
  c.backoff = BackoffPolicy{Millis(50), Millis(500), 4};
  c.breaker = BreakerPolicy{1000, Millis(100)};
  sqs_.emplace(must(sqs::Client::make(c), "SQS client"));

  const std::string base = unique_name("e2e");
  queue_name_ = base + (options_.fifo ? ".fifo" : "");
  dlq_name_ = sqs::default_dlq_name(queue_name_);
  provision_queues();
}

Fleet::~Fleet() {
  for (auto& w : workers_) {
    try {
      w->process().kill_now();
    } catch (const std::exception& e) {
      fmt::print(stderr, "fleet: {}\n", e.what());
    }
  }
  const bool failed = ::testing::Test::HasFailure();
  if (failed) {
    for (auto& w : workers_) {
      fmt::print(stderr, "----- worker {} (pid {}), last lines of {}:\n{}\n", w->id(), w->pid(),
                 w->process().log_path(), tail_lines(w->process().output(), 40));
    }
    fmt::print(stderr, "fleet: test failed; logs kept in {}\n", dir_);
  }
  workers_.clear();
  if (sqs_) {
    for (const auto& url : {queue_url_, dlq_url_}) {
      if (!url.empty()) (void)sqs_->delete_queue(url);
    }
  }
  db_.reset();
  try {
    drop_database();
  } catch (const std::exception& e) {
    fmt::print(stderr, "fleet: could not drop database {}: {}\n", db_name_, e.what());
  }
  if (!failed) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Fleet::create_database() {
  db_name_ = unique_name("e2e");
  std::replace(db_name_.begin(), db_name_.end(), '-', '_');
  admin_exec(admin_url_, fmt::format("CREATE DATABASE \"{}\"", db_name_));
  db_url_ = conninfo_with(admin_url_, {{"dbname", db_name_}});
}

void Fleet::drop_database() {
  admin_exec(admin_url_, fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", db_name_));
}

namespace {

std::string conninfo_value(const std::string& url, const char* keyword, const char* fallback) {
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), nullptr);
  if (opts == nullptr) throw std::runtime_error("bad database URL");
  std::string value = fallback;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, keyword) == 0 && o->val != nullptr && *o->val != '\0') {
      value = o->val;
    }
  }
  PQconninfoFree(opts);
  return value;
}

}  // namespace

std::string Fleet::database_host() const {
  return conninfo_value(db_url_, "host", "127.0.0.1");
}

int Fleet::database_port() const {
  return std::stoi(conninfo_value(db_url_, "port", "5432"));
}

std::string Fleet::database_url_via(const std::string& host, int port) const {
  return conninfo_with(db_url_, {{"host", host}, {"hostaddr", ""}, {"port", std::to_string(port)}});
}

void Fleet::provision_queues() {
  sqs::ProvisionSpec spec;
  spec.queue_name = queue_name_;
  spec.dlq_name = dlq_name_;
  spec.visibility_timeout_s = 30;
  spec.receive_wait_s = 1;
  spec.max_receive_count = options_.max_receive_count;
  auto r = must(sqs::provision(*sqs_, spec), "provision " + queue_name_);
  queue_url_ = r.queue.url;
  dlq_url_ = r.dlq.url;
}

std::vector<std::string> Fleet::child_environment() const {
  // Workers are configured by flags alone: OPFLEET_* variables of the test's environment
  // (the stack's, a developer's) must not leak into them.
  std::vector<std::string> env;
  bool has_key = false;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("OPFLEET_")) continue;
    if (v.starts_with("AWS_ACCESS_KEY_ID=")) has_key = true;
    env.emplace_back(v);
  }
  if (!has_key) {
    // The emulators accept any signature; the worker's credential chain needs something.
    env.emplace_back("AWS_ACCESS_KEY_ID=test");
    env.emplace_back("AWS_SECRET_ACCESS_KEY=test");
  }
  return env;
}

WorkerProcess& Fleet::start_worker(WorkerSpec spec) {
  std::string id = spec.worker_id.empty() ? fmt::format("w{}", next_worker_) : spec.worker_id;
  ++next_worker_;
  // One flag per line, as on a command line.
  // clang-format off
  std::vector<std::string> argv = {
      opfleet_binary(), "worker",
      "--config", dir_ + "/empty.conf",
      "--log-format", "json",
      "--log-level", spec.log_level,
      "--worker-id", id,
      "--database-url", spec.database_url.empty() ? db_url_ : spec.database_url,
      "--db-statement-timeout-ms", std::to_string(spec.db_statement_timeout_ms),
      "--db-connect-timeout-s", std::to_string(spec.db_connect_timeout_s),
      "--sqs-endpoint", spec.sqs_endpoint.empty() ? sqs_endpoint_ : spec.sqs_endpoint,
      "--region", "us-east-1",
      "--queue-name", queue_name_,
      "--dlq-name", dlq_name_,
      "--slots", std::to_string(spec.slots),
      "--lease-ms", std::to_string(spec.lease_ms),
      "--receive-wait-s", std::to_string(spec.receive_wait_s),
      "--drain-timeout-s", std::to_string(spec.drain_timeout_s),
      "--retry-base-ms", std::to_string(spec.retry_base_ms),
      "--retry-cap-ms", std::to_string(spec.retry_cap_ms),
      "--sweep-interval-ms", std::to_string(spec.sweep_interval_ms),
      // Outage tests want a worker back within a second of its peer, not 16 s later.
      "--sqs-retry-base-ms", "100",
      "--sqs-retry-cap-ms", "1000",
      "--sqs-breaker-open-ms", "1000",
  };
  // clang-format on
  if (spec.fence_margin_ms > 0) {
    argv.insert(argv.end(), {"--fence-margin-ms", std::to_string(spec.fence_margin_ms)});
  }
  if (!spec.command_allow.empty()) {
    std::string list;
    for (const auto& p : spec.command_allow) list += (list.empty() ? "" : ",") + p;
    argv.insert(argv.end(), {"--command-allow", list});
  }
  argv.insert(argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  auto child = std::make_unique<ChildProcess>(std::move(argv), child_environment(),
                                              fmt::format("{}/{}.log", dir_, id));
  auto& w = *workers_.emplace_back(std::make_unique<WorkerProcess>(id, std::move(child)));
  if (!w.wait_for_event("worker_started", seconds(20))) {
    throw std::runtime_error(
        fmt::format("worker {} did not start; its output:\n{}", id, w.process().output()));
  }
  return w;
}

const jobs::JobDef& Fleet::builtin(std::string_view name) {
  static const jobs::Registry registry = jobs::Registry::with_builtins();
  const jobs::JobDef* job = registry.find(name);
  if (job == nullptr) throw std::runtime_error(fmt::format("no built-in job {}", name));
  return *job;
}

std::string Fleet::submit(const jobs::JobDef& job, double time_scale) {
  auto r =
      must(worker::submit_run(*db_, *sqs_, queue_url_, job, {}, time_scale), "submit " + job.name);
  return r.run_id;
}

std::string Fleet::run_status(const std::string& run_id) {
  auto rows = must(db_->exec("SELECT status FROM runs WHERE run_id = $1", {param::text(run_id)},
                             store::Idempotent::kYes),
                   "read run");
  if (rows.empty()) throw std::runtime_error("no run " + run_id);
  return must(rows.front().get<std::string>(0), "run status");
}

bool Fleet::check_workers_alive() {
  for (auto& w : workers_) {
    if (w->process().died_unexpectedly() && reported_dead_.insert(w->id()).second) {
      ADD_FAILURE() << "worker " << w->id() << " died (wait status " << *w->process().status()
                    << "); last lines of its log:\n"
                    << tail_lines(w->process().output(), 20);
      return false;
    }
  }
  return true;
}

std::string Fleet::wait_run(const std::string& run_id, milliseconds timeout) {
  std::string status;
  bool done = wait_until(
      [&] {
        // A crashed worker fails the wait at once instead of at its timeout.
        if (!check_workers_alive()) return true;
        status = run_status(run_id);
        return status == "succeeded" || status == "failed" || status == "cancelled";
      },
      timeout);
  return done ? status : std::string();
}

bool Fleet::wait_runs(const std::vector<std::string>& run_ids, milliseconds timeout) {
  bool alive = true;
  bool done = wait_until(
      [&] {
        if (!(alive = check_workers_alive())) return true;
        auto rows = must(db_->exec("SELECT count(*) FROM runs WHERE run_id = ANY($1::text[]) "
                                   "AND status NOT IN ('succeeded', 'failed', 'cancelled')",
                                   {param::text_array(run_ids)}, store::Idempotent::kYes),
                         "count unfinished runs");
        return must(rows.front().get<std::int64_t>(0), "count") == 0;
      },
      timeout);
  return done && alive;
}

bool Fleet::wait_until(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

namespace {

constexpr const char* kAttemptsSql = R"SQL(
SELECT id, run_id, step_key, run_id || '#' || step_key AS key, attempt, fencing_token,
       worker_id, pid, (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
       (extract(epoch FROM ended_at) * 1000000)::bigint AS ended_us, outcome,
       coalesce(error, '') AS error
  FROM attempts
)SQL";

std::vector<AttemptRow> attempt_rows(const store::Rows& rows) {
  std::vector<AttemptRow> out;
  for (const auto& row : rows) {
    AttemptRow a;
    a.id = must(row.get<std::int64_t>("id"), "id");
    a.run_id = must(row.get<std::string>("run_id"), "run_id");
    a.step_key = must(row.get<std::string>("step_key"), "step_key");
    a.key = must(row.get<std::string>("key"), "key");
    a.attempt = must(row.get<int>("attempt"), "attempt");
    a.fencing_token = must(row.get<std::int64_t>("fencing_token"), "fencing_token");
    a.worker_id = must(row.get<std::string>("worker_id"), "worker_id");
    a.pid = must(row.get<int>("pid"), "pid");
    a.started_at = must(row.get<std::int64_t>("started_us"), "started_at");
    a.ended_at = must(row.get<std::optional<std::int64_t>>("ended_us"), "ended_at");
    a.outcome = must(row.get<std::string>("outcome"), "outcome");
    a.error = must(row.get<std::string>("error"), "error");
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::vector<AttemptRow> Fleet::attempts(const std::string& run_id) {
  std::string sql =
      std::string(kAttemptsSql) + (run_id.empty() ? "" : " WHERE run_id = $1") + " ORDER BY id";
  store::Params p;
  if (!run_id.empty()) p.push_back(param::text(run_id));
  return attempt_rows(must(db_->exec(sql, p, store::Idempotent::kYes), "read attempts"));
}

std::vector<AttemptRow> Fleet::attempts_of(const std::string& key) {
  std::string sql = std::string(kAttemptsSql) + " WHERE run_id || '#' || step_key = $1 ORDER BY id";
  return attempt_rows(
      must(db_->exec(sql, {param::text(key)}, store::Idempotent::kYes), "read attempts"));
}

std::vector<StepRow> Fleet::steps(const std::string& run_id) {
  std::string sql = R"SQL(
SELECT run_id, step_key, idempotency_key, status, attempt, max_attempts, depends_on,
       (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
       (extract(epoch FROM finished_at) * 1000000)::bigint AS finished_us,
       (extract(epoch FROM lease_expires_at) * 1000000)::bigint AS lease_us,
       fencing_token, result, coalesce(error, '') AS error
  FROM steps
)SQL";
  store::Params p;
  if (!run_id.empty()) {
    sql += " WHERE run_id = $1";
    p.push_back(param::text(run_id));
  }
  sql += " ORDER BY run_id, step_key";
  auto rows = must(db_->exec(sql, p, store::Idempotent::kYes), "read steps");
  std::vector<StepRow> out;
  for (const auto& row : rows) {
    StepRow s;
    s.run_id = must(row.get<std::string>("run_id"), "run_id");
    s.step_key = must(row.get<std::string>("step_key"), "step_key");
    s.key = must(row.get<std::string>("idempotency_key"), "key");
    s.status = must(row.get<std::string>("status"), "status");
    s.attempt = must(row.get<int>("attempt"), "attempt");
    s.max_attempts = must(row.get<int>("max_attempts"), "max_attempts");
    s.depends_on = must(row.get<std::vector<std::string>>("depends_on"), "depends_on");
    s.started_at = must(row.get<std::optional<std::int64_t>>("started_us"), "started_at");
    s.finished_at = must(row.get<std::optional<std::int64_t>>("finished_us"), "finished_at");
    s.lease_expires_at = must(row.get<std::optional<std::int64_t>>("lease_us"), "lease");
    s.fencing_token = must(row.get<std::int64_t>("fencing_token"), "fencing_token");
    auto result = must(row.get<std::optional<nlohmann::json>>("result"), "result");
    if (result) s.result = std::move(*result);
    s.error = must(row.get<std::string>("error"), "error");
    out.push_back(std::move(s));
  }
  return out;
}

StepRow Fleet::step(const std::string& key) {
  auto hash = key.rfind('#');
  if (hash == std::string::npos) throw std::runtime_error("not an idempotency key: " + key);
  for (auto& s : steps(key.substr(0, hash))) {
    if (s.key == key) return s;
  }
  throw std::runtime_error("no step " + key);
}

Audit Fleet::audit() {
  Audit a;
  auto rows = must(db_->exec(R"SQL(
SELECT s.idempotency_key AS key, s.status,
       count(a.id) FILTER (WHERE a.outcome = 'succeeded') AS completions
  FROM steps s LEFT JOIN attempts a ON a.run_id = s.run_id AND a.step_key = s.step_key
 GROUP BY s.idempotency_key, s.status
 ORDER BY 1
)SQL",
                             {}, store::Idempotent::kYes),
                   "audit completions");
  for (const auto& row : rows) {
    auto key = must(row.get<std::string>("key"), "key");
    auto status = must(row.get<std::string>("status"), "status");
    int n = static_cast<int>(must(row.get<std::int64_t>("completions"), "completions"));
    a.completions[key] = n;
    if (n > 1) a.duplicate_completions.push_back(fmt::format("{}: {} completions", key, n));
    if ((status == "succeeded") != (n == 1) && n <= 1) {
      a.inconsistent.push_back(
          fmt::format("{}: status {} with {} succeeded attempts", key, status, n));
    }
    if (status != "succeeded" && status != "failed" && status != "skipped") {
      a.lost.push_back(fmt::format("{}: {}", key, status));
    }
  }
  // Half-open intervals [started_at, ended_at): the next owner's claim closes the previous
  // attempt at the instant it starts its own, which is not an overlap. A running attempt
  // extends to infinity.
  auto overlaps = must(db_->exec(R"SQL(
SELECT a.run_id || '#' || a.step_key AS key, a.id AS first, b.id AS second,
       a.worker_id AS first_worker, b.worker_id AS second_worker
  FROM attempts a JOIN attempts b
    ON a.run_id = b.run_id AND a.step_key = b.step_key AND a.id < b.id
 WHERE tstzrange(a.started_at, coalesce(a.ended_at, 'infinity'), '[)')
    && tstzrange(b.started_at, coalesce(b.ended_at, 'infinity'), '[)')
 ORDER BY 1, 2, 3
)SQL",
                                 {}, store::Idempotent::kYes),
                       "audit overlaps");
  for (const auto& row : overlaps) {
    a.overlaps.push_back(fmt::format("{}: attempts {} ({}) and {} ({}) overlap",
                                     must(row.get<std::string>("key"), "key"),
                                     must(row.get<std::int64_t>("first"), "first"),
                                     must(row.get<std::string>("first_worker"), "worker"),
                                     must(row.get<std::int64_t>("second"), "second"),
                                     must(row.get<std::string>("second_worker"), "worker")));
  }
  return a;
}

Fleet::QueueCounts Fleet::queue_counts(const std::string& queue_url) {
  const std::vector<std::string> names = {sqs::attr::kApproximateNumberOfMessages,
                                          sqs::attr::kApproximateNumberOfMessagesNotVisible,
                                          sqs::attr::kApproximateNumberOfMessagesDelayed};
  auto attrs = must(sqs_->get_queue_attributes(queue_url, names), "queue attributes");
  auto number = [&](const char* name) {
    auto it = attrs.find(name);
    return it == attrs.end() ? 0L : std::stol(it->second);
  };
  QueueCounts c;
  c.visible = number(sqs::attr::kApproximateNumberOfMessages);
  c.in_flight = number(sqs::attr::kApproximateNumberOfMessagesNotVisible);
  c.delayed = number(sqs::attr::kApproximateNumberOfMessagesDelayed);
  return c;
}

bool Fleet::wait_queue_empty(const std::string& queue_url, milliseconds timeout) {
  return wait_until([&] { return queue_counts(queue_url).total() == 0; }, timeout);
}

sqs::OutgoingMessage Fleet::step_message(const std::string& key, const std::string& group_id,
                                         const std::string& deduplication_id) {
  auto rows = must(db_->exec("SELECT s.run_id, s.step_key, s.attempt, s.op, r.job, r.time_scale "
                             "FROM steps s JOIN runs r USING (run_id) "
                             "WHERE s.idempotency_key = $1",
                             {param::text(key)}, store::Idempotent::kYes),
                   "read step");
  if (rows.empty()) throw std::runtime_error("no step " + key);
  const auto row = rows.front();
  worker::QueuedStep q;
  q.run_id = must(row.get<std::string>("run_id"), "run_id");
  q.step_key = must(row.get<std::string>("step_key"), "step_key");
  q.key = key;
  q.attempt = 0;
  q.job = must(row.get<std::string>("job"), "job");
  q.op = must(row.get<nlohmann::json>("op"), "op");
  q.time_scale = must(row.get<double>("time_scale"), "time_scale");
  auto out = worker::to_outgoing(q, options_.fifo, "m0");
  if (options_.fifo) {
    out.group_id = group_id;
    out.deduplication_id = deduplication_id;
  }
  return out;
}

void Fleet::send(const std::string& queue_url, const sqs::OutgoingMessage& message) {
  must(sqs_->send_message(queue_url, message), "send");
}

std::vector<sqs::Message> Fleet::take_messages(const std::string& queue_url, std::size_t want,
                                               milliseconds timeout) {
  std::vector<sqs::Message> got;
  const auto deadline = Clock::now() + timeout;
  while (got.size() < want && Clock::now() < deadline) {
    sqs::ReceiveOptions o;
    o.max_messages = 10;
    o.wait_seconds = 1;
    o.visibility_timeout_s = 30;
    auto batch = must(sqs_->receive_messages(queue_url, o), "receive");
    for (auto& m : batch) {
      (void)sqs_->delete_message(queue_url, m.receipt_handle);
      got.push_back(std::move(m));
    }
  }
  return got;
}

}  // namespace opfleet::testing
