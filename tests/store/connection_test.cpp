// store::Connection against the stack's PostgreSQL, in a database of its own.
#include "store/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/store/scratch_database.h"
#include "tests/store/store_test_util.h"

namespace opfleet::store {
namespace {

using opfleet::testing::ScratchDatabase;
using std::chrono::steady_clock;

class ConnectionTest : public ::testing::Test {
 protected:
  ScratchDatabase db;
  Connection conn{db.options()};

  // Throws on error: the test fails with the message, and the fixture still drops its
  // database (reading row 0 of an empty result would abort instead).
  static Rows must(Result<Rows> r) {
    if (!r) throw std::runtime_error(r.error().describe());
    return std::move(*r);
  }
};

TEST_F(ConnectionTest, ReadsTypedValues) {
  auto rows = must(conn.exec(
      "SELECT 42::bigint AS i, -7::int AS small, 2.5::float8 AS d, 'NaN'::float8 AS nan, "
      "'-Infinity'::float8 AS neg_inf, true AS b, false AS f, 'héllo'::text AS s, NULL::text AS n, "
      "'{\"a\": [1, 2]}'::jsonb AS j, "
      "ARRAY['a', 'b c', 'd\"e', '', 'NULL', 'x\\y', '{}', 'p,q']::text[] AS arr, "
      "'{}'::text[] AS empty_arr, 9000000000::bigint AS big"));
  ASSERT_EQ(rows.size(), 1);
  const Row row = rows.front();
  EXPECT_EQ(row.get<std::int64_t>("i").value(), 42);
  EXPECT_EQ(row.get<int>("small").value(), -7);
  EXPECT_DOUBLE_EQ(row.get<double>("d").value(), 2.5);
  EXPECT_TRUE(std::isnan(row.get<double>("nan").value()));
  EXPECT_EQ(row.get<double>("neg_inf").value(), -INFINITY);
  EXPECT_TRUE(row.get<bool>("b").value());
  EXPECT_FALSE(row.get<bool>("f").value());
  EXPECT_EQ(row.get<std::string>("s").value(), "héllo");
  EXPECT_EQ(row.get<std::string>(7).value(), "héllo");  // by index too
  EXPECT_TRUE(row.is_null("n"));
  EXPECT_EQ(row.get<std::optional<std::string>>("n").value(), std::nullopt);
  EXPECT_EQ(row.get<std::optional<std::int64_t>>("i").value(), 42);
  EXPECT_EQ(row.get<nlohmann::json>("j").value(), nlohmann::json::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(row.get<std::vector<std::string>>("arr").value(),
            (std::vector<std::string>{"a", "b c", "d\"e", "", "NULL", "x\\y", "{}", "p,q"}));
  EXPECT_TRUE(row.get<std::vector<std::string>>("empty_arr").value().empty());

  // Conversions that cannot work are errors naming the column, not crashes.
  auto null_read = row.get<std::string>("n");
  ASSERT_FALSE(null_read);
  EXPECT_EQ(null_read.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(null_read.error().message.find("'n'"), std::string::npos);
  auto not_a_number = row.get<std::int64_t>("s");
  ASSERT_FALSE(not_a_number);
  EXPECT_EQ(not_a_number.error().kind, ErrorKind::kInvalid);
  EXPECT_FALSE(row.get<int>("big"));  // does not fit an int
  EXPECT_FALSE(row.get<bool>("s"));
  EXPECT_FALSE(row.get<nlohmann::json>("s"));
  EXPECT_TRUE(row.has_column("arr"));
  EXPECT_FALSE(row.has_column("ARR"));
}

TEST_F(ConnectionTest, ParametersRoundTrip) {
  const std::vector<std::string> items{"plain", "with space", "quote\"d", "back\\slash",
                                       "",      "NULL",       "{braces}", "a,b"};
  const nlohmann::json doc = {{"kind", "sleep"}, {"mean_s", 20.5}, {"text", "it's \"quoted\""}};
  auto rows = must(conn.exec(
      "SELECT $1::bigint AS i, $2::float8 AS d, $3::boolean AS b, $4::jsonb AS j, "
      "$5::text[] AS arr, $6::text AS n, $7::float8 AS nan, $8::float8 AS inf, $9::text AS t, "
      "$10::float8 AS tiny",
      {param::int64(-9007199254740993), param::float64(0.1), param::boolean(true), param::json(doc),
       param::text_array(items), param::null(), param::float64(std::nan("")),
       param::float64(INFINITY), param::text("O'Reilly; DROP"), param::float64(5e-324)}));
  const Row row = rows.front();
  EXPECT_EQ(row.get<std::int64_t>("i").value(), -9007199254740993);
  EXPECT_EQ(row.get<double>("d").value(), 0.1);  // exact: shortest round-trip text
  EXPECT_TRUE(row.get<bool>("b").value());
  EXPECT_EQ(row.get<nlohmann::json>("j").value(), doc);
  EXPECT_EQ(row.get<std::vector<std::string>>("arr").value(), items);
  EXPECT_TRUE(row.is_null("n"));
  EXPECT_TRUE(std::isnan(row.get<double>("nan").value()));
  EXPECT_EQ(row.get<double>("inf").value(), INFINITY);
  EXPECT_EQ(row.get<std::string>("t").value(), "O'Reilly; DROP");
  EXPECT_EQ(row.get<double>("tiny").value(), 5e-324);
}

TEST_F(ConnectionTest, ReportsAffectedRowsAndIterates) {
  must(conn.exec("CREATE TABLE t (id int PRIMARY KEY, v text)"));
  auto inserted = must(conn.exec("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 5) g"));
  EXPECT_EQ(inserted.affected(), 5);
  EXPECT_EQ(inserted.command_tag(), "INSERT 0 5");
  auto updated = must(conn.exec("UPDATE t SET v = 'y' WHERE id > $1", {param::int64(2)}));
  EXPECT_EQ(updated.affected(), 3);
  std::int64_t sum = 0;
  for (const Row& r : must(conn.exec("SELECT id FROM t ORDER BY id"))) {
    sum += r.get<std::int64_t>("id").value();
  }
  EXPECT_EQ(sum, 15);
  EXPECT_EQ(must(conn.exec("SELECT id FROM t WHERE false")).size(), 0);
}

TEST_F(ConnectionTest, SocketIsCloseOnExec) {
  ASSERT_TRUE(conn.ensure_connected());
  const int fd = conn.socket();
  ASSERT_GE(fd, 0);
  const int flags = ::fcntl(fd, F_GETFD);
  ASSERT_GE(flags, 0);
  EXPECT_TRUE(flags & FD_CLOEXEC) << "libpq no longer sets FD_CLOEXEC on its socket";
}

TEST_F(ConnectionTest, SessionCarriesApplicationNameAndStatementTimeout) {
  auto rows =
      must(conn.exec("SELECT current_setting('application_name') AS app, "
                     "current_setting('statement_timeout') AS st"));
  EXPECT_EQ(rows.front().get<std::string>("app").value(), "opfleet-store-test");
  EXPECT_EQ(rows.front().get<std::string>("st").value(), "10s");
}

TEST_F(ConnectionTest, StatementTimeoutIsRetryableTimeout) {
  auto options = db.options();
  options.statement_timeout = Millis(200);
  Connection c(options);
  ASSERT_TRUE(c.ensure_connected());
  const int pid = c.backend_pid();
  const auto start = steady_clock::now();
  auto r = c.exec("SELECT pg_sleep(5)");
  const auto took = steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kTimeout);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().code, "57014");
  EXPECT_LT(took, std::chrono::seconds(3));
  // The server cancelled the statement; the session itself is fine and kept.
  EXPECT_TRUE(c.ping());
  EXPECT_EQ(c.backend_pid(), pid);
  EXPECT_EQ(c.sessions_opened(), 1u);
}

TEST_F(ConnectionTest, ClientDeadlineDropsASilentSession) {
  auto options = db.options();
  options.statement_timeout = Millis(300);
  options.client_grace = Millis(200);
  Connection c(options);
  // Switch the server-side limit off, so only the client-side guard can end the wait
  // (as when the network goes silent).
  ASSERT_TRUE(c.exec("SET statement_timeout = 0"));
  const auto start = steady_clock::now();
  auto r = c.exec("SELECT pg_sleep(5)");
  const auto took = steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kTimeout);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_NE(r.error().message.find("may have run"), std::string::npos) << r.error().message;
  EXPECT_GE(took, Millis(500));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_FALSE(c.connected());
  EXPECT_TRUE(c.ping());  // a new session
  EXPECT_EQ(c.sessions_opened(), 2u);
}

struct SqlstateCase {
  const char* sql;
  ErrorKind kind;
  bool retryable;
  const char* code;
};

TEST_F(ConnectionTest, ServerErrorsMapToKinds) {
  must(conn.exec("CREATE TABLE u (id int PRIMARY KEY)"));
  must(conn.exec("INSERT INTO u VALUES (1)"));
  const SqlstateCase cases[] = {
      {"INSERT INTO u VALUES (1)", ErrorKind::kConflict, false, "23505"},
      {"SELECT * FROM no_such_table", ErrorKind::kInternal, false, "42P01"},
      {"SELEC 1", ErrorKind::kInternal, false, "42601"},
      {"SELECT 'abc'::int", ErrorKind::kInvalid, false, "22P02"},
      {"SELECT 1 / 0", ErrorKind::kInvalid, false, "22012"},
      {"INSERT INTO u VALUES (NULL)", ErrorKind::kInvalid, false, "23502"},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$", ErrorKind::kConflict,
       true, "40001"},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$", ErrorKind::kConflict,
       true, "40P01"},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '53300'; END $$", ErrorKind::kUnavailable,
       true, "53300"},
  };
  for (const auto& c : cases) {
    auto r = conn.exec(c.sql);
    ASSERT_FALSE(r) << c.sql;
    EXPECT_EQ(r.error().kind, c.kind) << c.sql << ": " << r.error().describe();
    EXPECT_EQ(r.error().retryable, c.retryable) << c.sql;
    EXPECT_EQ(r.error().code, c.code) << c.sql;
    EXPECT_FALSE(r.error().message.empty());
  }
  // None of those cost the session.
  EXPECT_EQ(conn.sessions_opened(), 1u);
}

TEST_F(ConnectionTest, UniqueViolationMessageHasTheDetail) {
  must(conn.exec("CREATE TABLE u (id int PRIMARY KEY)"));
  must(conn.exec("INSERT INTO u VALUES (7)"));
  auto r = conn.exec("INSERT INTO u VALUES ($1)", {param::int64(7)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("(id)=(7)"), std::string::npos) << r.error().message;
}

TEST_F(ConnectionTest, PreparedStatementsAreRegisteredOnceAndReused) {
  must(conn.exec("CREATE TABLE kv (k text PRIMARY KEY, v bigint NOT NULL)"));
  ASSERT_TRUE(conn.prepare("put",
                           "INSERT INTO kv VALUES ($1, $2) ON CONFLICT (k) DO UPDATE "
                           "SET v = EXCLUDED.v"));
  ASSERT_TRUE(conn.prepare("get", "SELECT v FROM kv WHERE k = $1"));
  // Same name, same SQL: fine. Same name, other SQL: a bug, reported.
  EXPECT_TRUE(conn.prepare("get", "SELECT v FROM kv WHERE k = $1"));
  auto clash = conn.prepare("get", "SELECT 1");
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().kind, ErrorKind::kInternal);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(conn.exec_prepared("put", {param::text("a"), param::int64(i)}));
  }
  auto got = must(conn.exec_prepared("get", {param::text("a")}));
  EXPECT_EQ(got.front().get<std::int64_t>("v").value(), 2);
  auto server =
      must(conn.exec("SELECT count(*) AS n FROM pg_prepared_statements "
                     "WHERE name IN ('put', 'get')"));
  EXPECT_EQ(server.front().get<std::int64_t>("n").value(), 2);

  auto unknown = conn.exec_prepared("nope");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kInternal);

  // SQL errors show at registration, not at first use.
  auto bad = conn.prepare("bad", "SELECT FROM WHERE");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "42601");
}

TEST_F(ConnectionTest, DeallocatedStatementIsPreparedAgain) {
  ASSERT_TRUE(conn.prepare("one", "SELECT 1 AS x"));
  must(conn.exec("DEALLOCATE one"));
  auto r = must(conn.exec_prepared("one"));
  EXPECT_EQ(r.front().get<int>("x").value(), 1);
  EXPECT_EQ(conn.sessions_opened(), 1u);
}

TEST_F(ConnectionTest, ReconnectsAndRepreparesAfterTheSessionIsKilled) {
  ASSERT_TRUE(conn.prepare("echo", "SELECT $1::text AS v"));
  ASSERT_TRUE(conn.exec_prepared("echo", {param::text("before")}));
  const int old_pid = conn.backend_pid();
  opfleet::testing::terminate_backend(db.url(), old_pid);

  // Not idempotent, yet safe: the dead session is noticed before anything is sent.
  auto r = must(conn.exec_prepared("echo", {param::text("after")}));
  EXPECT_EQ(r.front().get<std::string>("v").value(), "after");
  EXPECT_NE(conn.backend_pid(), old_pid);
  EXPECT_EQ(conn.sessions_opened(), 2u);
}

// The statement both advances a sequence (which no rollback undoes) and, the first time,
// sleeps long enough to be killed mid-flight.
constexpr const char* kSideEffect =
    "WITH n AS (SELECT nextval('s') AS v) "
    "SELECT v, pg_sleep(CASE WHEN v = 1 THEN 30 ELSE 0 END) FROM n";

void kill_when_sleeping(const std::string& url, int pid) {
  opfleet::testing::wait_until_sql(
      url, fmt::format("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {} AND "
                       "state = 'active' AND wait_event = 'PgSleep')",
                       pid));
  opfleet::testing::terminate_backend(url, pid);
}

TEST_F(ConnectionTest, StatementCutShortIsNotSilentlyRerun) {
  must(conn.exec("CREATE SEQUENCE s"));
  std::thread killer(kill_when_sleeping, db.url(), conn.backend_pid());
  auto r = conn.exec(kSideEffect);
  killer.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_NE(r.error().message.find("may have run"), std::string::npos) << r.error().message;
  // Ran once: the sequence moved once.
  auto seq = must(conn.exec("SELECT last_value FROM s"));
  EXPECT_EQ(seq.front().get<std::int64_t>("last_value").value(), 1);
}

TEST_F(ConnectionTest, IdempotentStatementIsRerunOnANewSession) {
  must(conn.exec("CREATE SEQUENCE s"));
  std::thread killer(kill_when_sleeping, db.url(), conn.backend_pid());
  auto r = conn.exec(kSideEffect, {}, Idempotent::kYes);
  killer.join();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->front().get<std::int64_t>("v").value(), 2);  // the second run
  EXPECT_EQ(conn.sessions_opened(), 2u);
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(a.sin_port);
}

TEST(ConnectionFailures, RefusedIsRetryableNetworkThenTheBreakerOpens) {
  SteadyClock::time_point now{};
  ConnectionOptions o;
  o.url = fmt::format("postgresql://opfleet@127.0.0.1:{}/x", closed_port());
  o.reconnect = BackoffPolicy{Millis(1), Millis(2), 2};
  o.breaker = BreakerPolicy{4, Millis(1000)};
  o.clock = [&now] { return now; };
  Connection c(o);
  for (int call = 0; call < 2; ++call) {  // 2 calls x 2 attempts = 4 failures
    auto r = c.exec("SELECT 1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::kNetwork) << r.error().describe();
    EXPECT_TRUE(r.error().retryable);
  }
  EXPECT_EQ(c.breaker().state(), BreakerState::kOpen);
  auto fast = c.exec("SELECT 1");
  ASSERT_FALSE(fast);
  EXPECT_EQ(fast.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(fast.error().retryable);
  EXPECT_NE(fast.error().message.find("circuit open"), std::string::npos);
  now += Millis(1000);  // one trial is let through, fails, and re-opens the circuit
  auto trial = c.exec("SELECT 1");
  ASSERT_FALSE(trial);
  EXPECT_EQ(trial.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(c.breaker().state(), BreakerState::kOpen);
  EXPECT_EQ(c.sessions_opened(), 0u);
}

TEST(ConnectionFailures, MissingDatabaseIsNotRetried) {
  ScratchDatabase db;
  auto o = db.options();
  o.url = opfleet::testing::with_dbname(db.url(), db.name() + "_missing");
  o.reconnect = BackoffPolicy{Millis(2000), Millis(2000), 5};  // would take seconds if retried
  Connection c(o);
  const auto start = steady_clock::now();
  auto r = c.ensure_connected();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound) << r.error().describe();
  EXPECT_FALSE(r.error().retryable);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(ConnectionFailures, BadUrlIsInvalid) {
  for (const char* url : {"", "host=localhost nonsense_option=1", "postgresql://[::1"}) {
    ConnectionOptions o;
    o.url = url;
    Connection c(o);
    auto r = c.ensure_connected();
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid) << url << ": " << r.error().describe();
  }
}

TEST(ConnectionFailures, UrlDescriptionHidesThePassword) {
  const std::string d =
      describe_url("postgresql://alice:s3cret@db.example:6543/opfleet?sslmode=require");
  EXPECT_EQ(d, "db.example:6543/opfleet");
  EXPECT_EQ(describe_url("host=h port=1 dbname=d password=s3cret"), "h:1/d");
}

}  // namespace
}  // namespace opfleet::store
