// Maps PostgreSQL errors onto opfleet's Error kinds, so callers decide on retries from
// the kind and the retryable flag alone. The SQLSTATE is kept in Error::code.
//
//   08xxx, 57P01-57P03 connection lost/refused, server shutting down -> kNetwork, retryable
//   57014 query_canceled (statement_timeout)                         -> kTimeout, retryable
//   40001 serialization_failure, 40P01 deadlock_detected             -> kConflict, retryable
//   55P03 lock_not_available (NOWAIT, lock_timeout)                  -> kConflict, retryable
//   23505 unique_violation                                           -> kConflict
//   other 23xxx integrity violations, 22xxx data exceptions          -> kInvalid
//   28xxx invalid authorization                                      -> kAuth
//   3D000 database does not exist                                    -> kNotFound
//   53xxx insufficient resources (too many connections, disk full)  -> kUnavailable, retryable
//   42xxx syntax error or access rule violation, anything else       -> kInternal
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace opfleet::store {

// An Error of the kind above for `sqlstate` (five characters), carrying `message`.
Error error_from_sqlstate(std::string_view sqlstate, std::string message);

// For failures with no SQLSTATE (libpq reports connection failures as text only):
// refused, unreachable and "starting up" are retryable network errors; a rejected
// password or a missing database are not worth retrying.
Error error_from_connect_failure(std::string message);

}  // namespace opfleet::store
