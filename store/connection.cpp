#include "store/connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/log.h"
#include "store/sqlstate.h"
#include "store/transaction.h"

namespace opfleet::store {

struct Connection::Call {
  enum class Kind { kParams, kPrepared, kScript };
  Kind kind;
  std::string_view text;  // SQL, or the prepared statement's name
  const Params* params;
  Idempotent idempotent;
};

struct Connection::Outcome {
  Result<Rows> rows;
  bool connection_lost = false;  // the session died during the call
  bool sent = false;             // the statement reached the server, so it may have run
};

namespace {

// libpq messages end in a newline and may span lines ("connection to server at ...
// failed: ...\n\tIs the server running...?"); log lines want one line.
std::string one_line(const char* text) {
  std::string out;
  bool space = false;
  for (const char* p = text; p != nullptr && *p != '\0'; ++p) {
    const bool ws = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += *p;
  }
  return out;
}

Error error_from_result(const PGresult* res, std::string_view context) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
  std::string message =
      primary != nullptr ? one_line(primary) : one_line(PQresultErrorMessage(res));
  if (detail != nullptr) message += fmt::format(" ({})", one_line(detail));
  if (!context.empty()) message = fmt::format("{}: {}", context, message);
  if (state == nullptr) {
    // libpq's own failures (lost connection, protocol trouble) carry no SQLSTATE.
    return Error::internal(std::move(message));
  }
  return error_from_sqlstate(state, std::move(message));
}

struct ConninfoDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoDeleter>;

Result<ConninfoPtr> parse_conninfo(const std::string& url) {
  if (url.empty()) {
    return fail(Error::invalid("no database URL given (--database-url or OPFLEET_DATABASE_URL)"));
  }
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(url.c_str(), &err));
  if (!opts) {
    // libpq's parse errors quote the offending part, never the password value.
    std::string why = err != nullptr ? one_line(err) : "out of memory";
    PQfreemem(err);
    return fail(Error::invalid(fmt::format("invalid database URL: {}", why)));
  }
  return opts;
}

using Keywords = std::vector<std::pair<std::string, std::string>>;

Result<Keywords> build_keywords(const ConnectionOptions& o) {
  OPFLEET_TRY(auto parsed, parse_conninfo(o.url));
  Keywords kw;
  std::string url_options;
  for (const PQconninfoOption* p = parsed.get(); p->keyword != nullptr; ++p) {
    if (p->val == nullptr) continue;
    if (std::strcmp(p->keyword, "options") == 0) {
      url_options = p->val;
      continue;
    }
    kw.emplace_back(p->keyword, p->val);
  }
  auto set = [&kw](std::string_view key, std::string value, bool override_url) {
    for (auto& [k, v] : kw) {
      if (k == key) {
        if (override_url) v = std::move(value);
        return;
      }
    }
    kw.emplace_back(std::string(key), std::move(value));
  };
  if (o.connect_timeout.count() > 0) {
    set("connect_timeout", fmt::format("{}", o.connect_timeout.count()), true);
  }
  if (!o.application_name.empty()) set("application_name", o.application_name, true);
  // TCP keepalives find a dead server while we wait on a statement with no client
  // deadline (statement_timeout 0, scripts); the URL may tune them.
  set("keepalives", "1", false);
  set("keepalives_idle", "10", false);
  set("keepalives_interval", "5", false);
  set("keepalives_count", "3", false);
  // statement_timeout travels in the startup packet, so every session (including each
  // reconnect) has it without an extra round trip.
  std::string options = url_options;
  if (o.statement_timeout.count() >= 0) {
    if (!options.empty()) options += ' ';
    options += fmt::format("-c statement_timeout={}", o.statement_timeout.count());
  }
  if (!options.empty()) kw.emplace_back("options", std::move(options));
  return kw;
}

}  // namespace

std::string describe_url(std::string_view url) {
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(std::string(url).c_str(), &err));
  PQfreemem(err);
  if (!opts) return "(invalid database URL)";
  std::string host, port, db;
  for (const PQconninfoOption* p = opts.get(); p->keyword != nullptr; ++p) {
    if (p->val == nullptr) continue;
    if (std::strcmp(p->keyword, "host") == 0) host = p->val;
    if (std::strcmp(p->keyword, "hostaddr") == 0 && host.empty()) host = p->val;
    if (std::strcmp(p->keyword, "port") == 0) port = p->val;
    if (std::strcmp(p->keyword, "dbname") == 0) db = p->val;
  }
  if (host.empty()) host = "localhost";
  return fmt::format("{}{}{}/{}", host, port.empty() ? "" : ":", port, db);
}

Connection::Connection(ConnectionOptions options)
    : options_(std::move(options)),
      backoff_(options_.reconnect),
      breaker_("postgres " + describe_url(options_.url), options_.breaker, options_.clock) {}

Connection::~Connection() {
  drop_connection();
}

void Connection::on_notice(void* self, const PGresult* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string_view sev = severity != nullptr ? severity : "NOTICE";
  // An ERROR/FATAL seen here arrived while the session was idle: the server saying why
  // it is closing the connection (shutdown, pg_terminate_backend, idle timeout).
  const bool fatal = sev == "FATAL" || sev == "PANIC";
  if (fatal) {
    auto* conn = static_cast<Connection*>(self);
    conn->fatal_notice_ = true;
    conn->fatal_message_ = primary != nullptr ? one_line(primary) : std::string(sev);
  }
  // A FATAL is reported once, by whoever finds the session dead (pg_session_lost or the
  // failed call); warnings are worth seeing on their own.
  const bool loud = sev == "WARNING" || sev == "ERROR";
  log::write(loud ? log::Level::kWarn : log::Level::kDebug, "pg_notice",
             {{"severity", sev},
              {"sqlstate", state != nullptr ? state : ""},
              {"message", primary != nullptr ? one_line(primary) : std::string()}});
}

bool Connection::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}
int Connection::backend_pid() const {
  return conn_ != nullptr ? PQbackendPID(conn_) : 0;
}
int Connection::socket() const {
  return conn_ != nullptr ? PQsocket(conn_) : -1;
}

void Connection::drop_connection() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  prepared_in_session_.clear();
  if (in_transaction_) transaction_lost_ = true;
}

void Connection::disconnect() {
  drop_connection();
}

void Connection::end_transaction() {
  in_transaction_ = false;
  transaction_lost_ = false;
}

Status Connection::connect_once() {
  drop_connection();
  OPFLEET_TRY(auto kw, build_keywords(options_));
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : kw) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (c == nullptr) return fail(Error::internal("libpq could not allocate a connection"));
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(c));
    PQfinish(c);
    return fail(error_from_connect_failure(
        fmt::format("cannot connect to {}: {}", describe_url(options_.url), why)));
  }
  PQsetNoticeReceiver(c, &Connection::on_notice, this);
  conn_ = c;
  fatal_notice_ = false;
  fatal_message_.clear();
  ++sessions_opened_;
  return ok();
}

Status Connection::ensure_connected() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return ok();
  const int max_attempts = options_.reconnect.max_attempts;  // 0: until the breaker opens
  std::optional<Error> last;
  for (int attempt = 0;; ++attempt) {
    if (!breaker_.allow()) {
      // The circuit opened during this call: the connection error says more.
      if (last) return fail(std::move(*last));
      return fail(Error::make(
          ErrorKind::kUnavailable,
          fmt::format("database {} unreachable: not retrying for another {} ms (circuit open)",
                      describe_url(options_.url), breaker_.remaining_open().count()),
          true));
    }
    auto status = connect_once();
    if (status) {
      breaker_.record_success();
      if (sessions_opened_ > 1) {
        log::info("pg_reconnected", {{"db", describe_url(options_.url)},
                                     {"attempts", attempt + 1},
                                     {"backend_pid", backend_pid()}});
      }
      return ok();
    }
    breaker_.record_failure();
    if (!status.error().retryable || (max_attempts > 0 && attempt + 1 >= max_attempts)) {
      return status;
    }
    last = status.error();
    const Millis delay = backoff_.delay(attempt);
    log::info("pg_connect_retry", {{"db", describe_url(options_.url)},
                                   {"attempt", attempt + 1},
                                   {"delay_ms", delay.count()},
                                   {"error", status.error().message}});
    std::this_thread::sleep_for(delay);
  }
}

bool Connection::probe_idle() {
  // A server that restarted or terminated the session while we were idle has sent its
  // reason (a FATAL message) and closed the socket, so the socket is readable. Finding
  // that out before sending is what makes reconnect-then-run safe: nothing was sent.
  // The goodbye and the end of stream can arrive in separate reads; the FATAL alone
  // settles it (the server sends FATAL only when it is ending the session).
  for (int reads = 0; reads < 8; ++reads) {
    if (fatal_notice_ || PQstatus(conn_) != CONNECTION_OK) return false;
    pollfd p{PQsocket(conn_), POLLIN, 0};
    int r = 0;
    do {
      r = ::poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return false;
    if (r == 0) return true;  // nothing pending: as alive as we can tell without a round trip
    if (PQconsumeInput(conn_) == 0) return false;
    // We never LISTEN; drop stray notifications so they do not pile up.
    while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  }
  return !fatal_notice_ && PQstatus(conn_) == CONNECTION_OK;
}

Connection::Outcome Connection::wait_for_result(bool bounded) {
  bounded = bounded && options_.statement_timeout.count() > 0;
  const auto deadline = SteadyClock::now() + options_.statement_timeout + options_.client_grace;
  PGresult* kept = nullptr;  // the first error, else the last result
  auto is_error = [](const PGresult* r) {
    const auto st = PQresultStatus(r);
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE;
  };
  auto keep = [&kept, &is_error](PGresult* res) {
    if (kept != nullptr && is_error(kept)) {
      PQclear(res);
      return;
    }
    PQclear(kept);
    kept = res;
  };
  while (true) {
    while (PQisBusy(conn_) != 0) {
      int timeout_ms = -1;
      if (bounded) {
        const auto left = std::chrono::ceil<Millis>(deadline - SteadyClock::now());
        if (left.count() <= 0) {
          PQclear(kept);
          drop_connection();
          return Outcome{
              fail(Error::make(
                  ErrorKind::kTimeout,
                  fmt::format("no answer from the server within {} ms; the session was closed "
                              "and the statement may have run",
                              (options_.statement_timeout + options_.client_grace).count()),
                  true)),
              false, true};
        }
        timeout_ms = static_cast<int>(left.count());
      }
      pollfd p{PQsocket(conn_), POLLIN, 0};
      if (p.fd < 0) break;
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno != EINTR) break;  // PQgetResult reports the broken socket
      if (r > 0 && PQconsumeInput(conn_) == 0) break;
    }
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) break;
    const auto st = PQresultStatus(res);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // The session is now in COPY mode, which nothing here drives; start over.
      PQclear(res);
      PQclear(kept);
      drop_connection();
      return Outcome{fail(Error::invalid("COPY is not supported by store::Connection")), false,
                     true};
    }
    keep(res);
    if (PQstatus(conn_) == CONNECTION_BAD) break;
  }
  Rows rows(kept);
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::string why = kept != nullptr && PQresultErrorField(kept, PG_DIAG_MESSAGE_PRIMARY)
                          ? one_line(PQresultErrorField(kept, PG_DIAG_MESSAGE_PRIMARY))
                          : one_line(PQerrorMessage(conn_));
    Error e =
        Error::network(fmt::format("connection to {} lost: {}", describe_url(options_.url), why));
    e.code = "08006";  // connection_failure
    return Outcome{fail(std::move(e)), true, true};
  }
  if (kept == nullptr) return Outcome{std::move(rows), false, true};
  const auto st = PQresultStatus(kept);
  if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
    return Outcome{fail(error_from_result(kept, {})), false, true};
  }
  return Outcome{std::move(rows), false, true};
}

Connection::Outcome Connection::send_and_wait(const Call& call) {
  std::vector<const char*> values;
  if (call.params != nullptr) {
    values.reserve(call.params->size());
    for (const auto& p : *call.params) values.push_back(p ? p->c_str() : nullptr);
  }
  const int n = static_cast<int>(values.size());
  const std::string text(call.text);  // libpq wants NUL-terminated strings
  int sent = 0;
  switch (call.kind) {
    case Call::Kind::kParams:
      sent = PQsendQueryParams(conn_, text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
      break;
    case Call::Kind::kPrepared:
      sent = PQsendQueryPrepared(conn_, text.c_str(), n, values.data(), nullptr, nullptr, 0);
      break;
    case Call::Kind::kScript:
      sent = PQsendQuery(conn_, text.c_str());
      break;
  }
  if (sent != 0) ++round_trips_;
  if (sent == 0) {
    // The query did not leave (a failed write means the server never got the whole
    // message, so it cannot have run it).
    std::string why = one_line(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_BAD) {
      Error e =
          Error::network(fmt::format("connection to {} lost: {}", describe_url(options_.url), why));
      e.code = "08006";
      return Outcome{fail(std::move(e)), true, false};
    }
    return Outcome{fail(Error::invalid(fmt::format("cannot send statement: {}", why))), false,
                   false};
  }
  return wait_for_result(call.kind != Call::Kind::kScript);
}

Connection::Outcome Connection::prepare_on_server(const std::string& name, const std::string& sql) {
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0) {
    std::string why = one_line(PQerrorMessage(conn_));
    const bool lost = PQstatus(conn_) == CONNECTION_BAD;
    Error e = lost ? Error::network(
                         fmt::format("connection to {} lost: {}", describe_url(options_.url), why))
                   : Error::invalid(fmt::format("cannot prepare '{}': {}", name, why));
    return Outcome{fail(std::move(e)), lost, false};
  }
  Outcome out = wait_for_result(true);
  if (out.rows) {
    prepared_in_session_.insert(name);
  } else if (!out.connection_lost) {
    out.rows.error().message = fmt::format("prepare '{}': {}", name, out.rows.error().message);
  }
  // Preparing has no effect beyond the session, so a prepare cut short by a lost
  // connection is as good as not sent.
  out.sent = false;
  return out;
}

Result<Rows> Connection::run(const Call& call) {
  // Re-runs are only for statements that certainly did not run, or that the caller
  // marked idempotent; two are enough to ride out a server restart.
  constexpr int kMaxReruns = 2;
  auto lost_transaction = [] {
    Error e = Error::network(
        "the session of the open transaction was lost; the transaction was rolled back");
    e.code = "08006";
    return e;
  };
  for (int rerun = 0;; ++rerun) {
    if (transaction_lost_) return fail(lost_transaction());
    if (conn_ != nullptr && !probe_idle()) {
      log::info("pg_session_lost",
                {{"db", describe_url(options_.url)},
                 {"error", fatal_notice_ ? fatal_message_ : one_line(PQerrorMessage(conn_))}});
      drop_connection();
      if (in_transaction_) return fail(lost_transaction());
    }
    OPFLEET_TRY_STATUS(ensure_connected());

    Outcome out{Rows(), false, false};
    bool ready = true;
    if (call.kind == Call::Kind::kPrepared && !prepared_in_session_.contains(call.text)) {
      auto it = statements_.find(call.text);
      if (it == statements_.end()) {
        return fail(Error::internal(fmt::format("no prepared statement named '{}'", call.text)));
      }
      out = prepare_on_server(it->first, it->second);
      ready = out.rows.has_value();
    }
    if (ready) out = send_and_wait(call);
    if (out.rows) return std::move(out.rows);

    if (!out.connection_lost) {
      // Someone DEALLOCATEd or DISCARDed our statement: it did not run, so prepare again.
      if (call.kind == Call::Kind::kPrepared && out.rows.error().code == "26000" &&
          !in_transaction_ && rerun < kMaxReruns) {
        prepared_in_session_.erase(std::string(call.text));
        continue;
      }
      return fail(std::move(out.rows).error());
    }

    drop_connection();
    if (in_transaction_) {
      Error e = lost_transaction();
      e.message += fmt::format(" ({})", out.rows.error().message);
      return fail(std::move(e));
    }
    const bool safe = !out.sent || call.idempotent == Idempotent::kYes;
    if (safe && rerun < kMaxReruns) {
      log::info("pg_statement_rerun", {{"db", describe_url(options_.url)},
                                       {"reason", out.sent ? "idempotent" : "not sent"},
                                       {"error", out.rows.error().message}});
      continue;
    }
    Error e = std::move(out.rows).error();
    if (out.sent) e.message += "; the statement may have run and was not re-run";
    return fail(std::move(e));
  }
}

Result<Rows> Connection::exec(std::string_view sql, const Params& params, Idempotent idempotent) {
  return run(Call{Call::Kind::kParams, sql, &params, idempotent});
}

Result<Rows> Connection::exec_prepared(std::string_view name, const Params& params,
                                       Idempotent idempotent) {
  return run(Call{Call::Kind::kPrepared, name, &params, idempotent});
}

Status Connection::exec_script(std::string_view sql) {
  auto rows = run(Call{Call::Kind::kScript, sql, nullptr, Idempotent::kNo});
  if (!rows) return fail(std::move(rows).error());
  return ok();
}

Status Connection::prepare(std::string name, std::string sql) {
  if (auto it = statements_.find(name); it != statements_.end()) {
    if (it->second != sql) {
      return fail(Error::internal(
          fmt::format("prepared statement '{}' is already registered with other SQL", name)));
    }
  } else {
    statements_.emplace(name, std::move(sql));
  }
  // Inside a transaction, preparing waits for the first use, where run() applies the
  // transaction's rules to a lost session.
  if (prepared_in_session_.contains(name) || in_transaction_) return ok();
  if (conn_ != nullptr && !probe_idle()) drop_connection();
  OPFLEET_TRY_STATUS(ensure_connected());
  auto it = statements_.find(name);
  Outcome out = prepare_on_server(it->first, it->second);
  if (!out.rows) {
    if (out.connection_lost) drop_connection();
    return fail(std::move(out.rows).error());
  }
  return ok();
}

Status Connection::ping() {
  auto rows = exec("SELECT 1", {}, Idempotent::kYes);
  if (!rows) return fail(std::move(rows).error());
  return ok();
}

Result<Transaction> Connection::begin(Isolation isolation) {
  if (in_transaction_) {
    return fail(Error::internal("a transaction is already open on this connection"));
  }
  const char* sql = "BEGIN";
  switch (isolation) {
    case Isolation::kReadCommitted:
      sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
      break;
    case Isolation::kRepeatableRead:
      sql = "BEGIN ISOLATION LEVEL REPEATABLE READ";
      break;
    case Isolation::kSerializable:
      sql = "BEGIN ISOLATION LEVEL SERIALIZABLE";
      break;
  }
  // BEGIN changes nothing, so it may be re-run on a new session.
  OPFLEET_TRY(auto rows, exec(sql, {}, Idempotent::kYes));
  in_transaction_ = true;
  transaction_lost_ = false;
  return Transaction(this);
}

Result<std::unique_ptr<Connection>> connect(ConnectionOptions options) {
  auto conn = std::make_unique<Connection>(std::move(options));
  OPFLEET_TRY_STATUS(conn->ensure_connected());
  return conn;
}

}  // namespace opfleet::store
