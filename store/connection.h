// One PostgreSQL session over libpq, with the failure handling every opfleet process
// needs: typed errors, statement timeouts, named prepared statements that survive a
// reconnect, and reconnection with backoff and a circuit breaker.
//
// Threading: a Connection is used by one thread at a time (libpq connections are not
// thread-safe and a session has one transaction state). Processes that need
// concurrency open one Connection per thread.
//
// Blocking: calls block the calling thread: connecting (bounded by connect_timeout per
// attempt, plus the backoff between attempts) and waiting for a statement (bounded by
// statement_timeout on the server and, as a guard against a silent network, by
// statement_timeout + client_grace on the client).
//
// Reconnection and retries — the rule: a call never silently re-runs a statement that
// may have committed.
//  * When the connection is found broken before a statement is sent (the server went
//    away while the session was idle: restart, failover, pg_terminate_backend), the
//    call reconnects (Backoff between attempts, CircuitBreaker across calls),
//    re-prepares the registered statements and runs the statement. Nothing was
//    executed, so this is always safe.
//  * When the connection breaks after the statement was sent, the outcome is unknown
//    (it may have committed). The call fails with kNetwork, retryable, and the caller,
//    which knows whether re-running is safe, decides. Statements marked
//    Idempotent::kYes (reads, and writes guarded so a second run changes nothing) are
//    re-run on a new connection automatically.
//  * Inside a Transaction nothing is ever re-run: the transaction died with the
//    connection, so every later statement of that Transaction fails with kNetwork
//    (retryable: the caller may run the whole transaction again).
//  * A client-side timeout (no answer within statement_timeout + client_grace) drops
//    the connection, since the session is in an unknown state; it fails with kTimeout.
//
// File descriptors: libpq marks its socket FD_CLOEXEC itself (fe-connect.c sets it right
// after socket()); tests/store checks it, so forked workers never inherit a session.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/retry.h"
#include "store/params.h"
#include "store/rows.h"

struct pg_conn;  // PGconn from libpq-fe.h

namespace opfleet::store {

class Transaction;

struct ConnectionOptions {
  // A libpq URI (postgresql://user@host:port/db?...) or key=value string. Values given
  // here (connect timeout, application name, statement timeout) override the URL's.
  std::string url;
  std::string application_name = "opfleet";
  std::chrono::seconds connect_timeout{5};  // per attempt; libpq's minimum is 2 s
  // Server-side limit on each statement (and lock wait); 0 disables it.
  Millis statement_timeout{30000};
  // Extra time the client waits beyond statement_timeout before it gives up on a
  // silent server (network partition) and drops the connection.
  Millis client_grace{5000};
  // Connection attempts per call when the server is unreachable (max_attempts), with
  // full-jitter delays between them.
  BackoffPolicy reconnect{Millis(100), Millis(2000), 4};
  // Opens after this many consecutive failed connection attempts (across calls); while
  // open, calls fail at once with kUnavailable instead of waiting on a dead server.
  BreakerPolicy breaker{8, Millis(5000)};
  CircuitBreaker::Clock clock = [] { return SteadyClock::now(); };
};

enum class Idempotent : bool { kNo = false, kYes = true };

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

class Connection {
 public:
  // Does not connect: the first call (or ensure_connected) does.
  explicit Connection(ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects now if not connected (with the reconnect policy).
  Status ensure_connected();
  // Closes the session (the next call reconnects).
  void disconnect();

  // One statement (extended protocol: a single statement, parameters as $1, $2...).
  Result<Rows> exec(std::string_view sql, const Params& params = {},
                    Idempotent idempotent = Idempotent::kNo);

  // Registers a named prepared statement. It is prepared on the server now (so SQL
  // errors show at once) and again, transparently, on every new session. Registering
  // the same name with the same SQL again is a no-op; with other SQL it is an error.
  // When the server cannot be reached the registration is kept and the error returned.
  Status prepare(std::string name, std::string sql);
  Result<Rows> exec_prepared(std::string_view name, const Params& params = {},
                             Idempotent idempotent = Idempotent::kNo);

  // Several statements separated by semicolons, no parameters (simple protocol; used for
  // migrations). Never re-run automatically.
  Status exec_script(std::string_view sql);

  // BEGIN; the Transaction rolls back when destroyed without commit().
  Result<Transaction> begin(Isolation isolation = Isolation::kReadCommitted);

  // SELECT 1 (idempotent): checks that the server answers.
  Status ping();

  bool connected() const;
  // Backend process id of the current session (0 when not connected).
  int backend_pid() const;
  // The session's socket (-1 when not connected).
  int socket() const;
  // Sessions opened so far (1 after the first connect; grows with each reconnect).
  std::uint64_t sessions_opened() const { return sessions_opened_; }
  bool in_transaction() const { return in_transaction_; }
  // Statements sent to the server so far (BEGIN and COMMIT included): the round trips a
  // caller paid, for benchmarks and metrics.
  std::uint64_t round_trips() const { return round_trips_; }
  const CircuitBreaker& breaker() const { return breaker_; }
  const ConnectionOptions& options() const { return options_; }

 private:
  friend class Transaction;
  struct Call;
  struct Outcome;

  static void on_notice(void* self, const pg_result* res);
  Result<Rows> run(const Call& call);
  Status connect_once();
  bool probe_idle();  // false when the idle session turns out to be dead
  Outcome prepare_on_server(const std::string& name, const std::string& sql);
  Outcome send_and_wait(const Call& call);
  Outcome wait_for_result(bool has_deadline);
  void drop_connection();
  void end_transaction();

  ConnectionOptions options_;
  pg_conn* conn_ = nullptr;
  std::map<std::string, std::string, std::less<>> statements_;  // name -> SQL
  std::set<std::string, std::less<>> prepared_in_session_;
  Backoff backoff_;
  CircuitBreaker breaker_;
  std::uint64_t sessions_opened_ = 0;
  std::uint64_t round_trips_ = 0;
  bool in_transaction_ = false;
  bool transaction_lost_ = false;  // the session of the open transaction is gone
  bool fatal_notice_ = false;      // the server said FATAL while we were idle: it is closing
  std::string fatal_message_;      // ...and why
};

// Constructs and connects.
Result<std::unique_ptr<Connection>> connect(ConnectionOptions options);

// "host:port/dbname" of a URL for logs and messages: never the password or other options.
std::string describe_url(std::string_view url);

}  // namespace opfleet::store
