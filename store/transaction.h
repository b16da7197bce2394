// A database transaction bound to one Connection:
//   OPFLEET_TRY(auto tx, conn.begin());
//   OPFLEET_TRY(auto rows, tx.exec("UPDATE ...", {...}));
//   OPFLEET_TRY_STATUS(tx.commit());
// Destroyed without commit() it rolls back. While it is open, no statement is ever re-run
// on a new session: if the session dies, every later call fails with kNetwork
// (retryable) and the caller may run the whole transaction again.
// commit() failing with kNetwork when the session died during COMMIT means the outcome
// is unknown: the message says so, and the caller must check before re-running.
// A Transaction must not outlive its Connection; one transaction at a time per Connection.
#pragma once

#include <string_view>

#include "common/result.h"
#include "store/params.h"
#include "store/rows.h"

namespace opfleet::store {

class Connection;

class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<Rows> exec(std::string_view sql, const Params& params = {});
  Result<Rows> exec_prepared(std::string_view name, const Params& params = {});
  // Several statements, no parameters (see Connection::exec_script).
  Status exec_script(std::string_view sql);

  // COMMIT. A transaction in which a statement failed is rolled back by the server
  // instead: that is reported as an error too. The Transaction is closed either way.
  Status commit();
  // ROLLBACK (a lost session counts as rolled back). Closed either way.
  Status rollback();

  bool open() const { return conn_ != nullptr; }

 private:
  friend class Connection;
  explicit Transaction(Connection* conn) : conn_(conn) {}

  Connection* conn_;
};

}  // namespace opfleet::store
