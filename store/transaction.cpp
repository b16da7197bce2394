#include "store/transaction.h"

#include <utility>

#include <fmt/format.h>

#include "common/log.h"
#include "store/connection.h"

namespace opfleet::store {

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)) {}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  // Nobody else can act on this failure any more: log it here.
  if (auto st = rollback(); !st) {
    log::warn("pg_rollback_failed", {{"error", st.error().describe()}});
  }
}

Result<Rows> Transaction::exec(std::string_view sql, const Params& params) {
  if (conn_ == nullptr) return fail(Error::internal("the transaction has already ended"));
  return conn_->exec(sql, params, Idempotent::kNo);
}

Result<Rows> Transaction::exec_prepared(std::string_view name, const Params& params) {
  if (conn_ == nullptr) return fail(Error::internal("the transaction has already ended"));
  return conn_->exec_prepared(name, params, Idempotent::kNo);
}

Status Transaction::exec_script(std::string_view sql) {
  if (conn_ == nullptr) return fail(Error::internal("the transaction has already ended"));
  return conn_->exec_script(sql);
}

Status Transaction::commit() {
  if (conn_ == nullptr) return fail(Error::internal("the transaction has already ended"));
  Connection* c = std::exchange(conn_, nullptr);
  const bool lost_before = c->transaction_lost_;
  auto rows = c->exec("COMMIT", {}, Idempotent::kNo);
  c->end_transaction();
  if (!rows) {
    Error e = std::move(rows).error();
    if (!lost_before && e.kind == ErrorKind::kNetwork) {
      e.message = fmt::format(
          "the session was lost during COMMIT: the transaction may or may not have committed "
          "({})",
          e.message);
    }
    return fail(std::move(e));
  }
  // COMMIT of a transaction in which a statement failed answers ROLLBACK, not an error.
  if (rows->command_tag() == "ROLLBACK") {
    return fail(Error::internal(
        "the transaction was rolled back at COMMIT because one of its statements had failed"));
  }
  return ok();
}

Status Transaction::rollback() {
  if (conn_ == nullptr) return ok();
  Connection* c = std::exchange(conn_, nullptr);
  if (c->transaction_lost_ || c->conn_ == nullptr) {
    c->end_transaction();  // the server rolled back when the session ended
    return ok();
  }
  auto rows = c->exec("ROLLBACK", {}, Idempotent::kNo);
  const bool lost = c->transaction_lost_;
  c->end_transaction();
  if (!rows && !lost) {
    // The session is in an unknown state: start afresh on the next call.
    c->drop_connection();
    return fail(std::move(rows).error());
  }
  return ok();
}

}  // namespace opfleet::store
