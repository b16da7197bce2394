// store::Transaction: commit, rollback (explicit and by destruction), failures inside.
#include "store/transaction.h"

#include <thread>

#include <gtest/gtest.h>

#include "store/connection.h"
#include "tests/store/scratch_database.h"
#include "tests/store/store_test_util.h"

namespace opfleet::store {
namespace {

using opfleet::testing::ScratchDatabase;

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(conn.exec("CREATE TABLE t (id int PRIMARY KEY)")); }
  std::int64_t count() {
    auto r = conn.exec("SELECT count(*) AS n FROM t");
    EXPECT_TRUE(r) << r.error().describe();
    return r ? r->front().get<std::int64_t>("n").value() : -1;
  }

  ScratchDatabase db;
  Connection conn{db.options()};
};

TEST_F(TransactionTest, CommitMakesChangesVisible) {
  auto tx = conn.begin();
  ASSERT_TRUE(tx) << tx.error().describe();
  EXPECT_TRUE(conn.in_transaction());
  ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1), (2)"));
  ASSERT_TRUE(tx->commit());
  EXPECT_FALSE(tx->open());
  EXPECT_FALSE(conn.in_transaction());
  EXPECT_EQ(count(), 2);
}

TEST_F(TransactionTest, DestructionRollsBack) {
  {
    auto tx = conn.begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
    // Visible inside the transaction...
    auto inside = tx->exec("SELECT count(*) AS n FROM t");
    ASSERT_TRUE(inside);
    EXPECT_EQ(inside->front().get<std::int64_t>("n").value(), 1);
  }
  // ...gone after it.
  EXPECT_FALSE(conn.in_transaction());
  EXPECT_EQ(count(), 0);
}

TEST_F(TransactionTest, ExplicitRollback) {
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
  ASSERT_TRUE(tx->rollback());
  EXPECT_FALSE(tx->open());
  EXPECT_FALSE(tx->commit());  // already ended
  EXPECT_EQ(count(), 0);
}

TEST_F(TransactionTest, FailedStatementMakesCommitFail) {
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
  auto dup = tx->exec("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "23505");
  // The transaction is aborted: later statements fail, and COMMIT rolls back.
  auto after = tx->exec("INSERT INTO t VALUES (2)");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, "25P02");
  auto commit = tx->commit();
  ASSERT_FALSE(commit);
  EXPECT_NE(commit.error().message.find("rolled back"), std::string::npos);
  EXPECT_EQ(count(), 0);
}

TEST_F(TransactionTest, OneTransactionAtATime) {
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  auto second = conn.begin();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kInternal);
}

TEST_F(TransactionTest, LostSessionFailsTheRestOfTheTransaction) {
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
  opfleet::testing::terminate_backend(db.url(), conn.backend_pid());

  // Never re-run on a new session: that would run outside the transaction.
  auto next = tx->exec("INSERT INTO t VALUES (2)");
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(next.error().retryable);
  auto again = tx->exec("INSERT INTO t VALUES (3)");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kNetwork);
  auto commit = tx->commit();
  ASSERT_FALSE(commit);
  EXPECT_EQ(commit.error().kind, ErrorKind::kNetwork);
  EXPECT_NE(commit.error().message.find("rolled back"), std::string::npos)
      << commit.error().message;

  // The connection itself recovers on the next call, and nothing was written.
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(conn.sessions_opened(), 2u);
}

TEST_F(TransactionTest, SerializationFailureIsARetryableConflict) {
  ASSERT_TRUE(conn.exec("CREATE TABLE oncall (doctor text PRIMARY KEY, on_call bool NOT NULL)"));
  ASSERT_TRUE(conn.exec("INSERT INTO oncall VALUES ('alice', true), ('bob', true)"));
  Connection other(db.options());
  // Write skew: each transaction reads both rows, then takes a different one off call.
  auto a = conn.begin(Isolation::kSerializable);
  auto b = other.begin(Isolation::kSerializable);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->exec("SELECT count(*) FROM oncall WHERE on_call"));
  ASSERT_TRUE(b->exec("SELECT count(*) FROM oncall WHERE on_call"));
  ASSERT_TRUE(a->exec("UPDATE oncall SET on_call = false WHERE doctor = 'alice'"));
  ASSERT_TRUE(b->exec("UPDATE oncall SET on_call = false WHERE doctor = 'bob'"));
  ASSERT_TRUE(a->commit());
  auto lost = b->commit();
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, "40001");
  EXPECT_EQ(lost.error().kind, ErrorKind::kConflict);
  EXPECT_TRUE(lost.error().retryable);
}

TEST_F(TransactionTest, PreparedStatementsWorkInsideATransaction) {
  ASSERT_TRUE(conn.prepare("add", "INSERT INTO t VALUES ($1)"));
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->exec_prepared("add", {param::int64(1)}));
  ASSERT_TRUE(tx->exec_prepared("add", {param::int64(2)}));
  ASSERT_TRUE(tx->commit());
  EXPECT_EQ(count(), 2);
}

}  // namespace
}  // namespace opfleet::store
