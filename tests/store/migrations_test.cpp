// store::migrate and schema_status on fresh databases.
#include "store/migrations.h"

#include <array>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store/transaction.h"
#include "tests/store/scratch_database.h"
#include "tests/store/store_test_util.h"

namespace opfleet::store {
namespace {

using opfleet::testing::ScratchDatabase;

std::int64_t scalar(Connection& c, const std::string& sql) {
  auto r = c.exec(sql);
  EXPECT_TRUE(r) << sql << ": " << r.error().describe();
  return r ? r->front().get<std::int64_t>(0).value() : -1;
}

TEST(Migrations, EmbeddedListIsOrdered) {
  const auto list = migrations();
  ASSERT_FALSE(list.empty());
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(list[i].name.empty());
  }
  EXPECT_EQ(latest_schema_version(), static_cast<int>(list.size()));
}

TEST(Migrations, AppliesEverythingOnAnEmptyDatabase) {
  ScratchDatabase db;
  Connection conn(db.options());
  auto before = schema_status(conn);
  ASSERT_TRUE(before) << before.error().describe();
  EXPECT_EQ(before->current, 0);
  EXPECT_EQ(before->pending.size(), migrations().size());

  auto report = migrate(conn);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->from, 0);
  EXPECT_EQ(report->to, latest_schema_version());
  ASSERT_EQ(report->applied.size(), migrations().size());
  EXPECT_EQ(report->applied[0].name, "initial_schema");
  EXPECT_FALSE(report->applied[0].applied_at.empty());

  auto after = schema_status(conn);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->current, latest_schema_version());
  EXPECT_TRUE(after->pending.empty());
  EXPECT_EQ(scalar(conn, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
  for (const char* table :
       {"runs", "steps", "attempts", "schedule_ticks", "scaling_events", "supervisors"}) {
    EXPECT_EQ(scalar(conn, fmt::format("SELECT (to_regclass('{}') IS NOT NULL)::int", table)), 1)
        << table;
  }
}

TEST(Migrations, RerunIsANoOp) {
  ScratchDatabase db;
  Connection conn(db.options());
  ASSERT_TRUE(migrate(conn));
  auto again = migrate(conn);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->from, latest_schema_version());
  EXPECT_EQ(again->to, latest_schema_version());
  EXPECT_EQ(scalar(conn, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
}

TEST(Migrations, ConcurrentRunsAreSerialised) {
  ScratchDatabase db;
  // Hold the migration lock so both migrators queue up behind it, then let them race.
  Connection holder(db.options());
  ASSERT_TRUE(
      holder.exec("SELECT pg_advisory_lock($1::bigint)", {param::int64(kMigrationLockKey)}));

  Result<MigrateReport> first = fail(Error::internal("not run"));
  Result<MigrateReport> second = fail(Error::internal("not run"));
  std::thread a([&] {
    Connection c(db.options());
    first = migrate(c);
  });
  std::thread b([&] {
    Connection c(db.options());
    second = migrate(c);
  });
  opfleet::testing::wait_until_sql(
      db.url(), fmt::format("SELECT count(*) = 2 FROM pg_locks l JOIN pg_database d "
                            "ON d.oid = l.database WHERE d.datname = current_database() "
                            "AND l.locktype = 'advisory' AND NOT l.granted"));
  ASSERT_TRUE(
      holder.exec("SELECT pg_advisory_unlock($1::bigint)", {param::int64(kMigrationLockKey)}));
  a.join();
  b.join();

  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_TRUE(second) << second.error().describe();
  // Between them, each migration was applied exactly once.
  EXPECT_EQ(first->applied.size() + second->applied.size(), migrations().size());
  EXPECT_EQ(first->to, latest_schema_version());
  EXPECT_EQ(second->to, latest_schema_version());
  EXPECT_EQ(scalar(holder, "SELECT count(*) FROM schema_migrations"), latest_schema_version());
}

constexpr std::array kGood = {
    Migration{1, "first", "CREATE TABLE one (id int); CREATE TABLE two (id int)"},
    Migration{2, "second", "ALTER TABLE one ADD COLUMN name text"},
};

TEST(Migrations, FailingMigrationLeavesThePreviousVersion) {
  ScratchDatabase db;
  Connection conn(db.options());
  const std::array broken = {
      kGood[0],
      Migration{2, "broken", "CREATE TABLE three (id int); SELECT 1 / 0"},
  };
  auto r = migrate(conn, broken);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("migration 2 (broken)"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, "22012");
  auto status = schema_status(conn, broken);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->current, 1);
  ASSERT_EQ(status->pending.size(), 1u);
  EXPECT_EQ(status->pending[0].name, "broken");
  // All of migration 2 was rolled back, the table it created included.
  EXPECT_EQ(scalar(conn, "SELECT (to_regclass('three') IS NULL)::int"), 1);
  EXPECT_FALSE(conn.in_transaction());
}

TEST(Migrations, NewerOrDifferentHistoryIsRefused) {
  ScratchDatabase db;
  Connection conn(db.options());
  ASSERT_TRUE(migrate(conn, kGood));

  auto older_binary = migrate(conn, std::span(kGood).first(1));
  ASSERT_FALSE(older_binary);
  EXPECT_EQ(older_binary.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(older_binary.error().message.find("newer"), std::string::npos);

  const std::array renamed = {kGood[0], Migration{2, "other", "SELECT 1"}};
  auto r = migrate(conn, renamed);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'second' in the database but 'other'"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(schema_status(conn, renamed));
}

TEST(Migrations, MalformedListIsABug) {
  ScratchDatabase db;
  Connection conn(db.options());
  const std::array gap = {kGood[0], Migration{3, "gap", "SELECT 1"}};
  auto r = migrate(conn, gap);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
}

}  // namespace
}  // namespace opfleet::store
